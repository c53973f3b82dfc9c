"""A real SMTP server on loopback for tests: it keeps what it receives, parsed.

Used through the ``mail_server`` fixture of :mod:`blog.testing.plugin`.
"""

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from pydantic import SecretStr

from blog.settings import Settings

_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Received:
    """One message as delivered: the envelope's recipients and the parsed message."""

    recipients: tuple[str, ...]
    message: EmailMessage


class MailServer:
    """An aiosmtpd server on 127.0.0.1 that records every message it accepts.

    ``refuse(n)`` answers the next ``n`` messages with a temporary failure (to test
    retries); ``credentials`` (login, password), when set, are the only ones accepted.
    """

    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.port = _free_port()
        self.received: list[Received] = []
        self.logins: list[str] = []
        self._credentials = credentials
        self._refusals = 0
        self._arrived = threading.Condition()
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` sending mail here (plain SMTP, no login unless ``credentials``)."""
        username, password = self._credentials or (None, None)
        return settings.model_copy(
            update={
                "mail_backend": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": self.port,
                "smtp_security": "none",
                "smtp_username": username,
                "smtp_password": SecretStr(password) if password else None,
                "smtp_timeout_seconds": 5,
            }
        )

    def refuse(self, count: int = 1) -> None:
        """Answer the next ``count`` messages with ``451`` (try again later)."""
        self._refusals = count

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self._arrived:
            return [r.message for r in self.received if address in r.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 5) -> list[EmailMessage]:
        """The first ``count`` messages to ``address``; fails the test if they do not come
        within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(found := self.messages_to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(found)} of {count} messages to {address} within {timeout} s"
                    )
                self._arrived.wait(left)
            return found[:count]

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: SmtpSession, envelope: Envelope
    ) -> str:
        if self._refusals:
            self._refusals -= 1
            return "451 4.3.0 try again later"
        content = envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(message, EmailMessage):  # what policy.default always makes
            raise TypeError("not parsed as an EmailMessage")
        with self._arrived:
            self.received.append(Received(tuple(envelope.rcpt_tos), message))
            self._arrived.notify_all()
        return "250 OK"

    def _authenticate(
        self,
        _server: SMTP,
        _session: SmtpSession,
        _envelope: Envelope,
        _mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if (login, password) != self._credentials:
            return AuthResult(success=False, handled=False)
        self.logins.append(login)
        return AuthResult(success=True)


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    return _part(message, "plain")


def html_of(message: EmailMessage) -> str:
    """The HTML part of ``message``."""
    return _part(message, "html")


def link_in(message: EmailMessage) -> str:
    """The (only) link in the plain-text part of ``message``."""
    links = set(_LINK.findall(text_of(message)))
    if len(links) != 1:
        raise AssertionError(f"expected one link, found {sorted(links)}")
    link: str = links.pop()
    return link


def token_in(message: EmailMessage) -> str:
    """The ``token`` query parameter of the link in ``message``."""
    (token,) = parse_qs(urlsplit(link_in(message)).query)["token"]
    return token


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        raise AssertionError(f"no text/{subtype} part")
    return str(part.get_content())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
