"""Mail: letters rendered from templates, delivered in the background after commit.

Inside a request (or any unit of work), send with :func:`send_after_commit`, so that mail
goes out only for a change that committed. Build links with :func:`frontend_link`.
"""

from blog.mail.letters import (
    CONTEXT_KEYS,
    Letter,
    TemplateName,
    frontend_base,
    frontend_link,
    render,
)
from blog.mail.mailer import Mailer
from blog.mail.outbox import send_after_commit

__all__ = [
    "CONTEXT_KEYS",
    "Letter",
    "Mailer",
    "TemplateName",
    "frontend_base",
    "frontend_link",
    "render",
    "send_after_commit",
]
