"""User routes and the role rules of a tenant, through the HTTP API.

Covers your own account (``/users/me``), the admin list, public profiles, role
and active-flag changes, deletion, and that no user route leaks across tenants.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.problems import problem_body

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
Login = Callable[..., dict[str, object]]


def user_path(tenant: Tenant, user_id: uuid.UUID | str) -> str:
    return tenant_path(tenant, f"/users/{user_id}")


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_me(client: TestClient, tenant: Tenant, headers: dict[str, str]) -> httpx.Response:
    return client.get(tenant_path(tenant, "/users/me"), headers=headers)


def update_me(
    client: TestClient, tenant: Tenant, headers: dict[str, str], **changes: object
) -> httpx.Response:
    return client.patch(tenant_path(tenant, "/users/me"), json=changes, headers=headers)


def list_users(
    client: TestClient, tenant: Tenant, headers: dict[str, str], **params: str | int
) -> httpx.Response:
    return client.get(tenant_path(tenant, "/users"), params=params, headers=headers)


def listed_ids(response: httpx.Response) -> set[str]:
    return {item["id"] for item in response.json()["items"]}


def public_role(client: TestClient, tenant: Tenant, target: User) -> Any:
    """The role ``target`` has now, read from its public profile."""
    response = client.get(user_path(tenant, target.id))
    assert response.status_code == 200, response.text
    return response.json()["role"]


# --- GET /users/me ----------------------------------------------------------------------------


def test_read_me_returns_the_callers_account(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user(role=Role.editor)

    response = read_me(client, tenant, auth_headers(me))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(me.id)
    assert body["username"] == me.username
    assert body["email"] == me.email
    assert body["is_active"] is True
    assert body["role"] == "editor"


def test_read_me_never_exposes_the_password_hash(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()

    response = read_me(client, tenant, auth_headers(me))

    assert response.status_code == 200
    assert not any("password" in key for key in response.json())
    assert "$2b$" not in response.text
    assert me.hashed_password not in response.text


def test_read_me_with_a_token_from_login(
    client: TestClient, tenant: Tenant, user: UserMaker, login: Login
) -> None:
    me = user()
    token = login(tenant, me.username)["access_token"]

    response = read_me(client, tenant, bearer(token))

    assert response.status_code == 200
    assert response.json()["id"] == str(me.id)


def test_read_me_anonymous_is_401(client: TestClient, tenant: Tenant) -> None:
    response = read_me(client, tenant, {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- PATCH /users/me --------------------------------------------------------------------------


def test_update_me_changes_every_given_field(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    changes = {
        "name": "Jane Doe",
        "username": "jane_doe",
        "bio": "Writes about birds.",
        "image": "https://img.example.com/jane.png",
    }

    response = update_me(client, tenant, auth_headers(me), **changes)

    assert response.status_code == 200
    assert {key: response.json()[key] for key in changes} == changes
    assert read_me(client, tenant, auth_headers(me)).json() == response.json()


def test_update_me_keeps_omitted_fields(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user(name="Old Name", bio="Old bio", image="https://img.example.com/old.png")
    before = read_me(client, tenant, auth_headers(me)).json()

    response = update_me(client, tenant, auth_headers(me), bio="New bio")

    assert response.status_code == 200
    after = response.json()
    assert after["bio"] == "New bio"
    for field in ("name", "username", "email", "image", "role", "is_active", "created_at"):
        assert after[field] == before[field], field


def test_update_me_moves_updated_at_and_keeps_created_at(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    before = read_me(client, tenant, auth_headers(me)).json()

    response = update_me(client, tenant, auth_headers(me), name="Renamed")

    assert response.status_code == 200
    after = response.json()
    assert after["created_at"] == before["created_at"]
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(
        before["updated_at"]
    )


def test_update_me_to_another_users_username_ignoring_case_is_409(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    other = user(username="Taken")
    me = user()

    response = update_me(client, tenant, auth_headers(me), username="tAKEN")

    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"
    assert read_me(client, tenant, auth_headers(me)).json()["username"] == me.username
    assert read_me(client, tenant, auth_headers(other)).json()["username"] == "Taken"


def test_update_me_cannot_change_the_email_without_a_confirmation_link(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    """The address changes only through POST /users/me/email (tests/test_accounts.py)."""
    me = user(email="jane@example.com")

    response = update_me(client, tenant, auth_headers(me), email="mallory@example.com")

    assert response.status_code == 422
    assert read_me(client, tenant, auth_headers(me)).json()["email"] == "jane@example.com"


def test_update_me_to_a_username_used_in_another_tenant_is_allowed(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    user(username="Shared", tenant=other_tenant)
    me = user()

    response = update_me(client, tenant, auth_headers(me), username="Shared")

    assert response.status_code == 200
    assert response.json()["username"] == "Shared"


def test_update_me_to_own_username_in_another_case_is_allowed(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user(username="jane")

    response = update_me(client, tenant, auth_headers(me), username="JANE")

    assert response.status_code == 200
    assert response.json()["username"] == "JANE"


@pytest.mark.parametrize("field", ["username", "email"])
def test_update_me_with_null_username_or_email_is_422(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, field: str
) -> None:
    me = user()

    response = update_me(client, tenant, auth_headers(me), **{field: None})

    assert response.status_code == 422
    assert read_me(client, tenant, auth_headers(me)).json()[field] == getattr(me, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "owner"),
        ("is_active", False),
        ("tenant_id", "00000000-0000-0000-0000-000000000001"),
        ("id", "00000000-0000-0000-0000-000000000002"),
    ],
)
def test_update_me_with_an_unknown_field_is_422_and_changes_nothing(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    field: str,
    value: object,
) -> None:
    me = user(role=Role.author, name="Unchanged")

    response = update_me(client, tenant, auth_headers(me), name="Changed", **{field: value})

    assert response.status_code == 422
    after = read_me(client, tenant, auth_headers(me))
    assert after.status_code == 200
    assert after.json()["id"] == str(me.id)
    assert after.json()["role"] == "author"
    assert after.json()["is_active"] is True
    assert after.json()["name"] == "Unchanged"


@pytest.mark.parametrize("image", ["http://img.example.com/a.png", "https://img.example.com/a.png"])
def test_update_me_accepts_an_http_or_https_image(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, image: str
) -> None:
    response = update_me(client, tenant, auth_headers(user()), image=image)

    assert response.status_code == 200
    assert response.json()["image"] == image


@pytest.mark.parametrize(
    "image", ["ftp://img.example.com/a.png", "javascript:alert(1)", "img.example.com/a.png", ""]
)
def test_update_me_with_a_non_http_image_is_422(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, image: str
) -> None:
    response = update_me(client, tenant, auth_headers(user()), image=image)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "image"], "msg": "must be an http(s) URL", "type": "url_scheme"}
    ]
    assert response.json()["detail"] == "Invalid image: must be an http(s) URL"


def test_update_me_with_a_name_of_100_chars_is_allowed(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    response = update_me(client, tenant, auth_headers(user()), name="n" * 100)

    assert response.status_code == 200


def test_update_me_with_a_name_over_100_chars_is_422(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    response = update_me(client, tenant, auth_headers(user()), name="n" * 101)

    assert response.status_code == 422


# --- GET /users -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.admin, Role.owner])
def test_list_users_gives_a_page_to_admins_and_owners(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    caller = user(role=role)
    others = [user(), user(role=Role.reader)]

    response = list_users(client, tenant, auth_headers(caller))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert listed_ids(response) == {str(u.id) for u in (caller, *others)}
    assert all("email" in item and "is_active" in item for item in body["items"])
    assert "$2b$" not in response.text


def test_list_users_default_limit_is_20(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    for _ in range(21):
        user()

    response = list_users(client, tenant, auth_headers(admin))

    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 20
    assert (body["total"], body["limit"], body["offset"]) == (22, 20, 0)


def test_list_users_pages_with_limit_and_offset(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    for _ in range(4):
        user()
    everyone = list_users(client, tenant, auth_headers(admin), limit=100).json()["items"]

    response = list_users(client, tenant, auth_headers(admin), limit=2, offset=1)

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
    assert body["items"] == everyone[1:3]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": "q" * 101}])
def test_list_users_with_invalid_paging_or_query_is_422(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    params: dict[str, str | int],
) -> None:
    response = list_users(client, tenant, auth_headers(user(role=Role.admin)), **params)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "q",
    [
        "ZANZIBAR",  # part of a name
        "qUiLlFeAtHeR",  # part of a username
        "@MOONSTONE.example",  # part of an email
    ],
)
def test_list_users_filters_by_name_username_or_email_ignoring_case(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    q: str,
) -> None:
    admin = user(role=Role.admin, name="Admin")
    by_name = user(name="Zoe Zanzibar-Smith")
    by_username = user(username="the_Quillfeather", name="Plain")
    by_email = user(email="writer@moonstone.example", name="Plain")
    user(name="Plain")
    user(name="Zoe Zanzibar", username="Quillfeather", tenant=other_tenant)
    expected = {
        "ZANZIBAR": by_name,
        "qUiLlFeAtHeR": by_username,
        "@MOONSTONE.example": by_email,
    }[q]

    response = list_users(client, tenant, auth_headers(admin), q=q)

    assert response.status_code == 200
    assert listed_ids(response) == {str(expected.id)}
    assert response.json()["total"] == 1


@pytest.mark.parametrize("q", ["_", "%"])
def test_list_users_filter_matches_like_wildcards_literally(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, q: str
) -> None:
    admin = user(role=Role.admin, username="admin", name="Admin")
    user(username="plain", name="Plain")
    literal = user(username="x_y", name="Has x%y and _ in it")

    response = list_users(client, tenant, auth_headers(admin), q=q)

    assert response.status_code == 200
    assert listed_ids(response) == {str(literal.id)}
    assert response.json()["total"] == 1


@pytest.mark.parametrize("q", ["émile", "ÉMILE", "ÉmIlE"])
def test_list_users_filter_ignores_case_of_non_ascii_names(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, q: str
) -> None:
    admin = user(role=Role.admin, name="Admin")
    emile = user(name="Émile Zola")

    response = list_users(client, tenant, auth_headers(admin), q=q)

    assert response.status_code == 200
    assert listed_ids(response) == {str(emile.id)}


def test_list_users_only_lists_the_callers_tenant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    owner = user(role=Role.owner)
    mine = [owner, user(), user(role=Role.admin)]
    theirs = [user(role=role, tenant=other_tenant) for role in (Role.owner, Role.author)]

    response = list_users(client, tenant, auth_headers(owner))

    assert response.status_code == 200
    assert listed_ids(response) == {str(u.id) for u in mine}
    assert response.json()["total"] == len(mine)
    assert not listed_ids(response) & {str(u.id) for u in theirs}


def test_list_users_filter_never_counts_other_tenants(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    admin = user(role=Role.admin, name="Admin")
    user(name="Common Name")
    user(name="Common Name", tenant=other_tenant)
    user(name="Common Name", tenant=other_tenant)

    response = list_users(client, tenant, auth_headers(admin), q="common")

    assert response.status_code == 200
    assert response.json()["total"] == 1
    assert len(response.json()["items"]) == 1


@pytest.mark.parametrize("role", [Role.editor, Role.author, Role.reader])
def test_list_users_below_admin_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    response = list_users(client, tenant, auth_headers(user(role=role)))

    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"


def test_list_users_anonymous_is_401(client: TestClient, tenant: Tenant) -> None:
    response = list_users(client, tenant, {})

    assert response.status_code == 401


# --- GET /users/{user_id} ---------------------------------------------------------------------


def test_read_user_gives_a_public_profile_to_anyone(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    target = user(role=Role.editor, bio="Hi.")

    response = client.get(user_path(tenant, target.id))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(target.id)
    assert body["username"] == target.username
    assert body["role"] == "editor"
    assert body["bio"] == "Hi."
    assert "email" not in body
    assert target.email not in response.text
    assert "$2b$" not in response.text


def test_read_user_of_another_tenant_is_404_like_an_unknown_id(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: UserMaker
) -> None:
    outsider = user(tenant=other_tenant)

    response = client.get(user_path(tenant, outsider.id))

    unknown = client.get(user_path(tenant, uuid.uuid4()))
    assert response.status_code == unknown.status_code == 404
    assert problem_body(response) == problem_body(unknown)
    assert client.get(user_path(other_tenant, outsider.id)).status_code == 200


def test_read_user_with_a_malformed_id_is_422(client: TestClient, tenant: Tenant) -> None:
    response = client.get(user_path(tenant, "not-a-uuid"))

    assert response.status_code == 422


# --- PATCH /users/{user_id} -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor_role", "target_role", "new_role", "expected"),
    [
        (Role.admin, Role.author, Role.editor, 200),
        (Role.admin, Role.author, Role.admin, 200),
        (Role.admin, Role.admin, Role.author, 200),
        (Role.admin, Role.reader, Role.editor, 200),
        (Role.admin, Role.editor, Role.reader, 200),
        (Role.admin, Role.author, Role.owner, 403),
        (Role.admin, Role.owner, Role.admin, 403),
        (Role.admin, Role.owner, Role.reader, 403),
        (Role.owner, Role.admin, Role.owner, 200),
        (Role.owner, Role.author, Role.owner, 200),
        (Role.owner, Role.owner, Role.admin, 200),
        (Role.owner, Role.admin, Role.reader, 200),
        (Role.editor, Role.author, Role.reader, 403),
        (Role.editor, Role.reader, Role.editor, 403),
        (Role.author, Role.reader, Role.author, 403),
        (Role.reader, Role.author, Role.reader, 403),
    ],
)
def test_role_change_rules(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    actor_role: Role,
    target_role: Role,
    new_role: Role,
    expected: int,
) -> None:
    actor = user(role=actor_role)
    target = user(role=target_role)

    response = client.patch(
        user_path(tenant, target.id), json={"role": new_role}, headers=auth_headers(actor)
    )

    assert response.status_code == expected, response.text
    if expected == 200:
        assert response.json()["role"] == new_role
    else:
        assert response.json()["code"] == "role_forbidden"
    assert public_role(client, tenant, target) == (new_role if expected == 200 else target_role)


def test_admin_deactivates_an_author(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    author = user()

    response = client.patch(
        user_path(tenant, author.id), json={"is_active": False}, headers=auth_headers(admin)
    )

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["role"] == "author"


def test_admin_cannot_deactivate_an_owner(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    owner = user(role=Role.owner)

    response = client.patch(
        user_path(tenant, owner.id), json={"is_active": False}, headers=auth_headers(admin)
    )

    assert response.status_code == 403
    assert read_me(client, tenant, auth_headers(owner)).json()["is_active"] is True


def test_deactivated_users_token_stops_working_at_once(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, login: Login
) -> None:
    admin = user(role=Role.admin)
    author = user()
    token = login(tenant, author.username)["access_token"]
    assert read_me(client, tenant, bearer(token)).status_code == 200

    client.patch(
        user_path(tenant, author.id), json={"is_active": False}, headers=auth_headers(admin)
    )

    response = read_me(client, tenant, bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_update_user_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    target = user()

    response = client.patch(user_path(tenant, target.id), json={"role": "reader"})

    assert response.status_code == 401
    assert public_role(client, tenant, target) == "author"


def test_update_user_of_another_tenant_is_404(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    admin = user(role=Role.admin)
    outsider = user(tenant=other_tenant)

    response = client.patch(
        user_path(tenant, outsider.id), json={"role": "reader"}, headers=auth_headers(admin)
    )

    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"
    assert public_role(client, other_tenant, outsider) == "author"


@pytest.mark.parametrize("change", [{"role": "admin"}, {"is_active": False}])
def test_last_active_owner_cannot_be_demoted_or_deactivated(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    change: dict[str, object],
) -> None:
    owner = user(role=Role.owner)
    user(role=Role.owner, is_active=False)

    response = client.patch(user_path(tenant, owner.id), json=change, headers=auth_headers(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    me = read_me(client, tenant, auth_headers(owner)).json()
    assert (me["role"], me["is_active"]) == ("owner", True)


def test_with_two_owners_one_may_demote_themselves(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    owner = user(role=Role.owner)
    user(role=Role.owner)

    response = client.patch(
        user_path(tenant, owner.id), json={"role": "admin"}, headers=auth_headers(owner)
    )

    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_owner_may_set_is_active_true_on_themselves_as_last_owner(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    owner = user(role=Role.owner)

    response = client.patch(
        user_path(tenant, owner.id),
        json={"role": "owner", "is_active": True},
        headers=auth_headers(owner),
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"role": "superuser"},
        {"role": None},
        {"is_active": None},
        {"role": "editor", "username": "renamed"},
        {"email": "new@example.com"},
        {"tenant_id": "00000000-0000-0000-0000-000000000001"},
    ],
)
def test_update_user_with_invalid_or_unknown_fields_is_422(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    body: dict[str, object],
) -> None:
    admin = user(role=Role.admin)
    target = user()

    response = client.patch(user_path(tenant, target.id), json=body, headers=auth_headers(admin))

    assert response.status_code == 422
    assert public_role(client, tenant, target) == "author"


# --- DELETE /users/{user_id} ------------------------------------------------------------------


def test_user_deletes_their_own_account(
    client: TestClient, tenant: Tenant, user: UserMaker, login: Login
) -> None:
    me = user()
    token = login(tenant, me.username)["access_token"]

    response = client.delete(user_path(tenant, me.id), headers=bearer(token))

    assert response.status_code == 204
    assert read_me(client, tenant, bearer(token)).status_code == 401
    assert client.get(user_path(tenant, me.id)).status_code == 404


def test_admin_deletes_an_author(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    author = user()

    response = client.delete(user_path(tenant, author.id), headers=auth_headers(admin))

    assert response.status_code == 204
    assert client.get(user_path(tenant, author.id)).status_code == 404


def test_admin_cannot_delete_an_owner(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    owner = user(role=Role.owner)

    response = client.delete(user_path(tenant, owner.id), headers=auth_headers(admin))

    assert response.status_code == 403
    assert client.get(user_path(tenant, owner.id)).status_code == 200


def test_author_cannot_delete_another_user(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    author = user()
    other = user(role=Role.reader)

    response = client.delete(user_path(tenant, other.id), headers=auth_headers(author))

    assert response.status_code == 403
    assert client.get(user_path(tenant, other.id)).status_code == 200


def test_last_owner_cannot_delete_themselves(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    owner = user(role=Role.owner)

    response = client.delete(user_path(tenant, owner.id), headers=auth_headers(owner))

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert read_me(client, tenant, auth_headers(owner)).status_code == 200


def test_delete_user_of_another_tenant_is_404_and_keeps_them(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    owner = user(role=Role.owner)
    outsider = user(tenant=other_tenant)

    response = client.delete(user_path(tenant, outsider.id), headers=auth_headers(owner))

    assert response.status_code == 404
    assert client.get(user_path(other_tenant, outsider.id)).status_code == 200


def test_delete_user_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    target = user()

    response = client.delete(user_path(tenant, target.id))

    assert response.status_code == 401
    assert client.get(user_path(tenant, target.id)).status_code == 200


def test_deleting_a_user_removes_nobody_else(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    login: Login,
) -> None:
    owner = user(role=Role.owner)
    admin = user(role=Role.admin)
    victim = user()
    for role in (Role.author, Role.editor, Role.reader):
        login(tenant, user(role=role).username)
    login(tenant, victim.username)
    other_owner = user(role=Role.owner, tenant=other_tenant)
    user(tenant=other_tenant)
    before = listed_ids(list_users(client, tenant, auth_headers(owner)))
    other_before = listed_ids(list_users(client, other_tenant, auth_headers(other_owner)))

    response = client.delete(user_path(tenant, victim.id), headers=auth_headers(admin))

    assert response.status_code == 204
    after = list_users(client, tenant, auth_headers(owner))
    assert listed_ids(after) == before - {str(victim.id)}
    assert after.json()["total"] == len(before) - 1
    assert listed_ids(list_users(client, other_tenant, auth_headers(other_owner))) == other_before


# --- Cross-tenant tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("GET", "/users/me", None),
        ("PATCH", "/users/me", {"name": "Intruder"}),
        ("PATCH", "/users/{target}", {"role": "reader"}),
        ("DELETE", "/users/{target}", None),
    ],
)
def test_other_tenants_admin_token_is_401_under_this_tenant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    outsider = user(role=Role.admin, tenant=other_tenant)
    target = user(name="Target")

    response = client.request(
        method,
        tenant_path(tenant, path.format(target=target.id)),
        json=body,
        headers=auth_headers(outsider),
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert public_role(client, tenant, target) == "author"
    assert read_me(client, other_tenant, auth_headers(outsider)).json()["name"] == outsider.name
