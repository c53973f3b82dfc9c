"""How a rendered message leaves: the console backend logs it, the SMTP backend sends it.

Each transport runs in the background worker thread and raises when delivery fails, so
that :mod:`blog.background` retries it.
"""

import asyncio
import logging
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib

from blog.settings import Settings

# The console backend's log line is the mail itself (it holds the link); nothing else
# logs to this logger.
logger = logging.getLogger("blog.mail")

Transport = Callable[[EmailMessage], None]


class DeliveryFailed(Exception):
    """The server accepted the connection but not the message for every recipient."""


def transport_for(settings: Settings) -> Transport:
    """The transport ``settings.mail_backend`` names."""
    if settings.mail_backend == "console":
        return log_message

    def send(message: EmailMessage) -> None:
        send_smtp(message, settings=settings)

    return send


def log_message(message: EmailMessage) -> None:
    """Development: the message as a person reads it (headers, then the plain-text part,
    decoded, so a link can be copied whole), at INFO on ``blog.mail``."""
    text = message.get_body(preferencelist=("plain",))
    body = text.get_content() if isinstance(text, EmailMessage) else ""
    headers = "".join(f"{name}: {message[name]}\n" for name in ("From", "To", "Subject"))
    logger.info("mail (console backend; not sent):\n%s\n%s", headers, body)


def send_smtp(message: EmailMessage, *, settings: Settings) -> None:
    """Send through the configured SMTP server; raises on any failure.

    aiosmtplib is asyncio-only: each delivery runs its own short event loop in the worker
    thread (one connection per message; mail here is one message at a time).
    """
    asyncio.run(_send_smtp(message, settings))


async def _send_smtp(message: EmailMessage, settings: Settings) -> None:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    refused, _ = await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        username=settings.smtp_username,
        password=password if settings.smtp_username else None,
        timeout=settings.smtp_timeout_seconds,
    )
    if refused:
        raise DeliveryFailed(f"{len(refused)} recipients refused")
