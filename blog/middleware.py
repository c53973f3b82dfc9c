"""ASGI middleware: request body size limit and security headers."""

from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.errors import PROBLEM_JSON, BlogError, Problem, Render, render_problem

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-site",
}
# JSON answers never need scripts, styles or frames (the /docs page does, so it is spared).
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
JSON_MEDIA_TYPES = ("application/json", PROBLEM_JSON)


class PayloadTooLarge(BlogError):
    status_code = 413
    code = "payload_too_large"
    detail = "The request body is too large."


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413.

    A declared Content-Length is checked up front (the server holds the client to it);
    a body without one (chunked) is read here up to the limit and then handed on. The 413
    is in the shape of the API the path belongs to (``render_for``: path → renderer).
    Uploads take more: ``larger_for`` gives a path's own limit (None: ``max_bytes``).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        render_for: Callable[[str], Render] = lambda _path: render_problem,
        larger_for: Callable[[str], int | None] = lambda _path: None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.render_for = render_for
        self.larger_for = larger_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = self.render_for(scope["path"])(
            Problem(413, PayloadTooLarge.detail, PayloadTooLarge.code)
        )
        max_bytes = self.larger_for(scope["path"]) or self.max_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > max_bytes:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > max_bytes:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over an already-read body, then defers to the original."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class SecurityHeaders:
    """Adds hardening headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith(JSON_MEDIA_TYPES):
                    headers.setdefault("Content-Security-Policy", JSON_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)
