from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from blog.tenants.models import Tenant
from tests.factories import DEFAULT_PASSWORD

pytest_plugins = ["blog.testing.plugin"]


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
