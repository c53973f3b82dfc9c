"""The mailer: renders a letter now, delivers it in the background."""

from blog.background import BackgroundWork, Job
from blog.mail.delivery import transport_for
from blog.mail.letters import Letter, render
from blog.settings import Settings


class Mailer:
    """Sends :class:`Letter` s as ``settings.mail_backend`` says, through ``background``.

    Rendering happens in the caller, so a letter that cannot be rendered fails the request
    that wrote it; delivery happens in the worker, so a slow server never holds up one.
    Inside a transaction, use :func:`blog.mail.send_after_commit` instead of ``submit``.
    """

    def __init__(self, settings: Settings, background: BackgroundWork) -> None:
        self.background = background
        self._sender = settings.mail_from
        self._transport = transport_for(settings)

    def delivery(self, letter: Letter) -> Job:
        """The job that delivers ``letter``, rendered now (raises if it cannot be)."""
        message = render(letter, sender=self._sender)
        transport = self._transport

        def deliver() -> None:
            transport(message)

        return Job(name=f"mail:{letter.template}", tenant_id=letter.tenant_id, run=deliver)

    def submit(self, letter: Letter) -> bool:
        """Render ``letter`` and queue its delivery; False when the queue refused it."""
        return self.background.submit(self.delivery(letter))
