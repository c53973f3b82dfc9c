"""What a mail says: letters, their templates, and the links they carry.

Each template is two files in ``templates/``: ``<name>.txt`` (plain text; its first line
is the subject, then a blank line, then the body) and ``<name>.html`` (the same message,
autoescaped: a blog named ``<Acme & Co>`` shows as written). A context key a template
uses but the letter lacks is an error at render time, never a blank in a sent mail.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Final, Literal, get_args
from urllib.parse import quote, urlencode

import jinja2

TemplateName = Literal[
    "verify_email", "reset_password", "confirm_email_change", "email_changed", "email_replaced"
]

# The context each template needs (the templates use exactly these; a test checks it).
CONTEXT_KEYS: Final[Mapping[TemplateName, frozenset[str]]] = {
    "verify_email": frozenset({"blog_name", "username", "link", "expires_minutes"}),
    "reset_password": frozenset({"blog_name", "username", "link", "expires_minutes"}),
    # To the new address, which must prove it is reachable before the change is made.
    "confirm_email_change": frozenset({"blog_name", "username", "link", "expires_minutes"}),
    # To the old address: a warning that can be acted on if the change was not its owner's.
    "email_changed": frozenset({"blog_name", "username", "new_email"}),
    # To the old address, when an API without confirmation (RealWorld) changed it at once.
    "email_replaced": frozenset({"blog_name", "username", "new_email"}),
}

templates = jinja2.Environment(
    loader=jinja2.PackageLoader("blog.mail", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Letter:
    """One mail to one address, for one blog: ``template`` with ``context`` filled in.

    ``context`` always includes ``blog_name``; see :data:`CONTEXT_KEYS` for the rest.
    """

    tenant_id: uuid.UUID
    to: str
    template: TemplateName
    context: Mapping[str, str]

    def __post_init__(self) -> None:
        if self.template not in get_args(TemplateName):
            raise ValueError(f"unknown mail template {self.template!r}")


def render(letter: Letter, *, sender: str) -> EmailMessage:
    """The letter as a ready-to-send message: subject, plain text and HTML alternatives.

    Raises :class:`jinja2.UndefinedError` when the context lacks a key the template uses.
    """
    context = dict(letter.context)
    text = templates.get_template(f"{letter.template}.txt").render(context)
    first_line, _, body = text.partition("\n")
    # Whitespace folded: a newline in a blog's name must not start a new header.
    subject = " ".join(first_line.split())
    html = templates.get_template(f"{letter.template}.html").render(context, subject=subject)

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = letter.to
    message["Date"] = formatdate(localtime=False)
    # Domain given: make_msgid would otherwise look up this host's name (a DNS query).
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message.set_content(body.lstrip("\n"))
    message.add_alternative(html, subtype="html")
    return message


def frontend_base(frontend_url: str, *, tenant_slug: str) -> str:
    """A blog's frontend, without a trailing slash: ``{tenant}`` in ``frontend_url`` becomes
    the blog's slug. Pass the blog's own frontend URL when it has one, the global
    ``settings.frontend_url`` otherwise."""
    return frontend_url.replace("{tenant}", quote(tenant_slug, safe="")).rstrip("/")


def frontend_link(frontend_url: str, *, tenant_slug: str, action: str, token: str) -> str:
    """The frontend page that acts on ``token``: ``{frontend_url}/{action}?token=...``
    (see :func:`frontend_base`)."""
    base = frontend_base(frontend_url, tenant_slug=tenant_slug)
    return f"{base}/{action}?{urlencode({'token': token})}"


def _domain(address: str) -> str:
    _, email = parseaddr(address)
    return email.rpartition("@")[2] or "localhost"
