"""Creating a blog and reading its public info (platform routes)."""

from collections.abc import Callable

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.problems import problem_body

OWNER = {"email": "Owner@Acme.example", "username": "AcmeOwner", "password": "s3cret-pass"}


def create(client: TestClient, slug: str = "acme", **overrides: object) -> httpx.Response:
    return client.post(
        "/api/v1/tenants", json={"slug": slug, "name": "Acme", "owner": OWNER, **overrides}
    )


def test_create_tenant_returns_tenant_and_owner(client: TestClient) -> None:
    response = create(client)

    assert response.status_code == 201
    body = response.json()
    assert body["tenant"] == {
        "slug": "acme",
        "name": "Acme",
        "registration_open": True,
        "require_verified_email": False,
        "created_at": body["tenant"]["created_at"],
    }
    assert body["owner"]["role"] == "owner"
    assert body["owner"]["email_verified"] is False  # a link is mailed
    assert body["owner"]["email"] == "owner@acme.example"
    assert body["owner"]["username"] == "AcmeOwner"
    assert "hashed_password" not in body["owner"]
    assert "password" not in response.text


def test_new_owner_can_log_in_to_the_new_tenant(client: TestClient) -> None:
    create(client)

    response = client.post(
        "/api/v1/tenants/acme/auth/token",
        data={"username": "acmeowner", "password": OWNER["password"]},
    )

    assert response.status_code == 200
    me = client.get(
        "/api/v1/tenants/acme/users/me",
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert me.json()["role"] == "owner"


def test_taken_slug_is_409(client: TestClient) -> None:
    create(client)

    response = create(client, slug="ACME")

    assert response.status_code == 409
    assert response.json()["code"] == "tenant_slug_taken"


def test_invalid_slugs_are_422(client: TestClient) -> None:
    for slug in ("a", "-acme", "acme-", "ac me", "acmé", "a" * 64, "acme/x"):
        response = create(client, slug=slug)
        assert response.status_code == 422, slug


def test_unknown_fields_are_refused(client: TestClient) -> None:
    response = create(client, id="00000000-0000-0000-0000-000000000000")

    assert response.status_code == 422


def test_sign_up_disabled_is_403(app: FastAPI, client: TestClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"allow_tenant_signup": False})

    response = create(client)

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_signup_closed"


def test_read_public_info(client: TestClient, tenant: Tenant) -> None:
    response = client.get(tenant_path(tenant))

    assert response.status_code == 200
    assert response.json()["slug"] == tenant.slug
    assert set(response.json()) == {
        "slug",
        "name",
        "registration_open",
        "require_verified_email",
        "created_at",
    }


def test_unknown_tenant_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/tenants/nope")

    assert response.status_code == 404
    assert problem_body(response) == {
        "type": "/problems/tenant_not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "No such tenant.",
        "code": "tenant_not_found",
    }


def test_admin_closes_registration(
    client: TestClient,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: Callable[[User], dict[str, str]],
) -> None:
    admin = user(role=Role.admin)

    response = client.patch(
        tenant_path(tenant), json={"registration_open": False}, headers=auth_headers(admin)
    )

    assert response.status_code == 200
    assert response.json()["registration_open"] is False
    register = client.post(
        tenant_path(tenant, "/auth/register"),
        json={"email": "new@example.com", "username": "new", "password": "long-enough"},
    )
    assert register.status_code == 403
    assert register.json()["code"] == "registration_closed"


def test_editor_cannot_change_tenant(
    client: TestClient,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: Callable[[User], dict[str, str]],
) -> None:
    response = client.patch(
        tenant_path(tenant), json={"name": "Mine"}, headers=auth_headers(user(role=Role.editor))
    )

    assert response.status_code == 403


def test_admin_of_another_tenant_cannot_change_tenant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: Callable[..., User],
    auth_headers: Callable[[User], dict[str, str]],
) -> None:
    outsider = user(role=Role.owner, tenant=other_tenant)

    response = client.patch(
        tenant_path(tenant), json={"name": "Mine"}, headers=auth_headers(outsider)
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
