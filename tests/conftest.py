from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

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
