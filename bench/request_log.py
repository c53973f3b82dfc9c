"""What the request log costs a cached read: the app with its outermost middleware
(request id, one JSON log line), without it, and without it but with a line like
uvicorn's access log (what ``blog serve`` wrote per request before), in one run.

    python -m bench.request_log                  # 20000 requests on each
    python -m bench.request_log --requests 50000

The app is called as an ASGI app directly (no HTTP client, no network), so the figures
are the app's own work: a ``GET …/posts`` the response cache answers, logged as in
production (through the production filter and JSON formatter; uvicorn's formatter for
its line), to /dev/null. Requests alternate between the three, one at a time, so the
machine's load hits all alike; medians, as a loaded machine's pauses land anywhere.
"""

import argparse
import asyncio
import logging
import os
import time
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.logging import AccessFormatter

from bench.account_timing import SECRET, database
from blog.app import create_app
from blog.database import create_db_engine, new_session
from blog.observability.logs import JsonFormatter, RequestIdFilter
from blog.posts.models import PostStatus
from blog.settings import Settings
from blog.tenancy import cross_tenant
from blog.testing import factories

UVICORN_ACCESS_FORMAT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'


def _to_devnull(logger_name: str, formatter: logging.Formatter) -> None:
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - for the run
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class UvicornAccessLog:
    """The line uvicorn's HTTP protocol logs when a response is done (``access_log=True``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger("uvicorn.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        self.logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "{}:{}".format(*scope["client"]),
            scope["method"],
            scope["path"],
            scope["http_version"],
            status,
        )


def _arrange(session: Session) -> str:
    factories.bind_session(session)
    tenant = factories.TenantFactory.create()
    author = factories.UserFactory.create(tenant=tenant)
    for number in range(10):
        factories.PostFactory.create(
            author=author, title=f"Post {number}", status=PostStatus.published
        )
    factories.bind_session(None)
    slug: str = tenant.slug
    return slug


async def _get(app: ASGIApp, path: str, owner: FastAPI) -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
        "app": owner,  # as FastAPI.__call__ sets it
    }
    await app(scope, receive, send)
    return status


async def _measure(app: FastAPI, path: str, requests: int) -> dict[str, list[float]]:
    without = FastAPI.build_middleware_stack(app)
    stacks: dict[str, ASGIApp] = {
        "with the request log": app.build_middleware_stack(),
        "without": without,
        "uvicorn's access log": UvicornAccessLog(without),
    }
    for stack in stacks.values():
        for _ in range(50):  # warm up: the cache admits a URL on its second sighting
            assert await _get(stack, path, app) == 200  # noqa: S101
    times: dict[str, list[float]] = {name: [] for name in stacks}
    clock = time.perf_counter
    for _ in range(requests):
        for name, stack in stacks.items():
            start = clock()
            await _get(stack, path, app)
            times[name].append((clock() - start) * 1e6)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    _to_devnull("blog", JsonFormatter())
    _to_devnull("uvicorn.access", AccessFormatter(UVICORN_ACCESS_FORMAT, use_colors=False))

    with database(None) as (owner_url, app_url):
        owner = create_db_engine(owner_url)
        with new_session(owner) as session, cross_tenant(session, "arranging bench data"):
            slug = _arrange(session)
        owner.dispose()
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=app_url,
            secret_key=SECRET,  # type: ignore[arg-type]
        )
        engine = create_db_engine(app_url)
        app = create_app(settings, engine=engine)
        times = asyncio.run(_measure(app, f"/api/v1/tenants/{slug}/posts", args.requests))
        app.state.background.close(5)
        engine.dispose()

    medians = {}
    for name, values in times.items():
        values.sort()
        medians[name] = values[len(values) // 2]
        quartiles = f"{values[len(values) // 4]:.1f} to {values[3 * len(values) // 4]:.1f}"
        print(f"{name:>22}: median {medians[name]:6.1f} µs per cached GET (IQR {quartiles})")
    ours, none, uvicorn = medians.values()
    print(
        f"the request log costs {ours - none:.1f} µs ({ours / none:.2f} times); uvicorn's line "
        f"costs {uvicorn - none:.1f} µs ({uvicorn / none:.2f} times)"
    )


if __name__ == "__main__":
    main()
