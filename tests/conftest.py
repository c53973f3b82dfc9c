import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from blog.tenants.models import Tenant
from blog.users.models import User
from tests.conduit import Conduit
from tests.factories import DEFAULT_PASSWORD

pytest_plugins = ["blog.testing.plugin", "tests.cli", "tests.s3"]


def tenant_path(tenant: Tenant, path: str = "") -> str:
    """The URL of ``path`` under ``tenant``'s API."""
    return f"/api/v1/tenants/{tenant.slug}{path}"


@pytest.fixture
def login(client: TestClient) -> Callable[..., dict[str, object]]:
    """``login(tenant, 'user0', password=...)``: the token response of a password login."""

    def do_login(
        tenant: Tenant, username: str, password: str = DEFAULT_PASSWORD
    ) -> dict[str, object]:
        response = client.post(
            tenant_path(tenant, "/auth/token"), data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    return do_login


class QueryCounter:
    """Counts the SQL statements an engine runs while active (``with counter: ...``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, *args: Any) -> None:
        self.statements.append(args[2])

    def __enter__(self) -> "QueryCounter":
        self.statements.clear()
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def queries(engine: Engine) -> QueryCounter:
    """``with queries: client.get(...)`` then ``queries.count``."""
    return QueryCounter(engine)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server (one event loop) on loopback; yield its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def api(
    client: TestClient, tenant: Tenant, auth_headers: Callable[[User], dict[str, str]]
) -> Conduit:
    """The RealWorld API of ``tenant``, as ``api.create_article(...)`` and friends."""
    return Conduit(client, tenant, auth_headers)
