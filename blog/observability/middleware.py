"""The outermost middleware: a request id on every response, one log line and one
observation of the request metrics per request."""

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.observability import metrics
from blog.observability.context import begin_request, end_request
from blog.observability.metrics import ROUTE_KEY, UNMATCHED, route_template

REQUEST_ID_HEADER = "X-Request-ID"
# What a client or proxy may send as its own id; anything else is replaced by ours.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_HEADER = REQUEST_ID_HEADER.lower().encode()

logger = logging.getLogger("blog.requests")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER:
            text = value.decode("latin-1")
            return text if REQUEST_ID_PATTERN.fullmatch(text) else None
    return None


class RequestLog:
    """Gives each HTTP request an id (the client's ``X-Request-ID`` if well-formed, else a
    new one), returns it on the response, and logs one line when the request is done:
    method, route template, status, duration, blog, caller and client address. The same
    route and duration go to the request metrics (:func:`~blog.observability.metrics.
    observe_request`): one measurement serves both.

    It wraps the whole app, Starlette's handler of unexpected errors included, so a 500
    carries the id too. The client address is ``scope["client"]``: the proxy's forwarded
    address when the server trusts the proxy (``BLOG_FORWARDED_ALLOW_IPS``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_app = scope.get("app")
        request_id = _incoming_id(scope) or secrets.token_hex(16)
        context, token = begin_request(request_id)
        header = (_HEADER, request_id.encode())
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get(ROUTE_KEY) or route_template(scope, root_app)
            metrics.observe_request(scope["method"], route, status, seconds)
            if logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                # Made directly: where in this file it was logged needs no stack walk.
                record = logger.makeRecord(
                    logger.name,
                    logging.ERROR if status >= 500 else logging.INFO,
                    __file__,
                    0,
                    "request",
                    (),
                    None,
                    extra={
                        "method": scope["method"],
                        "route": None if route == UNMATCHED else route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "tenant": context.tenant,
                        "user_id": context.user_id,
                        "client": client[0] if client else None,
                    },
                )
                logger.handle(record)
            end_request(token)
