"""API keys through the HTTP API: made, listed and revoked by a blog's admins; content
keys read what anyone may read; admin keys act as their creator within their scopes; no
key works in another blog, after its revocation, or once its creator may no longer use it.
"""

import hashlib
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.keys.models import PREFIX_LENGTH, KeyKind, Scope
from blog.keys.service import new_key
from blog.posts.models import Post, PostStatus
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.factories import ApiKeyFactory, PostFactory, plain_key
from tests.problems import problem_body

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
INVALID_KEY = {
    "type": "/problems/invalid_token",
    "title": "Unauthorized",
    "status": 401,
    "detail": "Invalid or revoked API key.",
    "code": "invalid_token",
}


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def create_key(
    client: TestClient, tenant: Tenant, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return client.post(tenant_path(tenant, "/keys"), json=body, headers=headers)


def made_key(
    client: TestClient, tenant: Tenant, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = create_key(client, tenant, headers, **body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def posts(client: TestClient, tenant: Tenant, key: str, **params: str) -> httpx.Response:
    return client.get(tenant_path(tenant, "/posts"), params=params, headers=key_header(key))


def titles(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["title"] for item in response.json()["items"]}


@pytest.fixture
def admin(user: UserMaker) -> User:
    return user(role=Role.admin)


@pytest.fixture
def posts_of_every_status(db: Session, user: UserMaker) -> dict[PostStatus, Post]:
    author = user(role=Role.author)
    return {
        status: PostFactory(author=author, status=status, title=f"a {status} post")
        for status in PostStatus
    }


def admin_key(admin: User, *scopes: Scope) -> str:
    return plain_key(ApiKeyFactory(creator=admin, kind=KeyKind.admin, scopes=list(scopes)))


# --- making, listing, revoking ---------------------------------------------------------------


def test_an_admin_makes_a_key_shown_once_and_listed_without_its_secret(
    client: TestClient, tenant: Tenant, admin: User, auth_headers: AuthHeaders
) -> None:
    response = create_key(client, tenant, auth_headers(admin), kind="content", name=" site ")

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    made = response.json()
    assert made["key"].startswith("blog_ck_" + made["prefix"])
    assert len(made["key"]) >= 8 + 12 + 43  # a 256-bit secret after the prefix
    assert (made["kind"], made["name"], made["scopes"]) == ("content", "site", [])
    assert made["created_by"] == str(admin.id)
    assert made["revoked_at"] is None

    listed = client.get(tenant_path(tenant, "/keys"), headers=auth_headers(admin))
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["id"], item["prefix"]) == (made["id"], made["prefix"])
    assert not {"key", "secret_hash"} & set(item)
    secret = made["key"].removeprefix("blog_ck_" + made["prefix"])
    assert secret not in listed.text
    assert hashlib.sha256(made["key"].encode()).hexdigest() not in listed.text


@pytest.mark.parametrize("kind", list(KeyKind))
def test_a_prefix_is_letters_and_digits_so_a_command_line_takes_it(kind: KeyKind) -> None:
    """`blog keys revoke PREFIX`: a prefix starting with "-" would be read as an option
    (urlsafe base64 gave one key in 64 such a prefix)."""
    prefixes = [new_key(kind)[1] for _ in range(2000)]

    assert all(prefix.isalnum() and prefix.isascii() for prefix in prefixes)
    assert {len(prefix) for prefix in prefixes} == {PREFIX_LENGTH}
    assert len(set(prefixes)) == len(prefixes)


def test_keys_are_stored_only_as_a_hash(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    auth_headers: AuthHeaders,
    owner_engine: Engine,
) -> None:
    made = made_key(
        client, tenant, auth_headers(admin), kind="admin", name="deploy", scopes=["posts:write"]
    )

    with owner_engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert row["secret_hash"] == hashlib.sha256(made["key"].encode()).hexdigest()
    assert made["key"] not in {str(value) for value in row.values()}
    assert row["prefix"] == made["prefix"]


def test_revoking_a_key_refuses_its_very_next_call(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    auth_headers: AuthHeaders,
    posts_of_every_status: dict[PostStatus, Post],
) -> None:
    made = made_key(client, tenant, auth_headers(admin), kind="content", name="site")
    for _ in range(3):  # often enough for the response cache to hold the public answer
        assert posts(client, tenant, made["key"]).status_code == 200
        assert client.get(tenant_path(tenant, "/posts")).status_code == 200

    revoked = client.delete(tenant_path(tenant, f"/keys/{made['id']}"), headers=auth_headers(admin))

    assert revoked.status_code == 204, revoked.text
    refused = posts(client, tenant, made["key"])
    assert refused.status_code == 401
    assert problem_body(refused) == INVALID_KEY
    assert client.get(tenant_path(tenant, "/posts")).status_code == 200  # still public
    listed = client.get(tenant_path(tenant, "/keys"), headers=auth_headers(admin)).json()
    assert listed["items"][0]["revoked_at"] is not None


def test_only_admins_manage_keys_and_never_with_a_key(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    owner = user(role=Role.owner)
    key = admin_key(owner, *Scope)
    for role in (Role.reader, Role.author, Role.editor):
        refused = create_key(
            client, tenant, auth_headers(user(role=role)), kind="content", name="x"
        )
        assert refused.status_code == 403
    for method, path in (("POST", "/keys"), ("GET", "/keys")):
        response = client.request(
            method,
            tenant_path(tenant, path),
            json={"kind": "content", "name": "x"} if method == "POST" else None,
            headers=key_header(key),
        )
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "api_key_not_allowed"
    assert create_key(client, tenant, auth_headers(owner), kind="content", name="x").is_success


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "content", "name": "x", "scopes": ["posts:read"]},
        {"kind": "admin", "name": "x"},
        {"kind": "admin", "name": "x", "scopes": ["keys:manage"]},
        {"kind": "admin", "name": "x", "scopes": ["everything"]},
        {"kind": "root", "name": "x"},
        {"kind": "content", "name": "  "},
        {"kind": "content", "name": "x", "tenant_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_a_key_that_makes_no_sense_is_a_422(
    client: TestClient, tenant: Tenant, admin: User, auth_headers: AuthHeaders, body: Any
) -> None:
    response = client.post(tenant_path(tenant, "/keys"), json=body, headers=auth_headers(admin))
    assert response.status_code == 422, response.text


def test_an_unknown_key_id_is_a_404(
    client: TestClient, tenant: Tenant, admin: User, auth_headers: AuthHeaders
) -> None:
    response = client.delete(
        tenant_path(tenant, "/keys/00000000-0000-0000-0000-000000000000"),
        headers=auth_headers(admin),
    )
    assert response.status_code == 404


# --- one blog only ---------------------------------------------------------------------------


def test_no_key_works_in_another_blog_nor_is_managed_there(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    admin_b = user(role=Role.owner, tenant=other_tenant)
    content_b = plain_key(ApiKeyFactory(tenant=other_tenant))
    admin_key_b = admin_key(admin_b, *Scope)
    key_of_a = ApiKeyFactory(tenant=tenant)

    for key in (content_b, admin_key_b):
        for path in ("/posts", "/tags", "/users", "/posts?status=draft"):
            refused = client.get(tenant_path(tenant, path), headers=key_header(key))
            assert (refused.status_code, problem_body(refused)) == (401, INVALID_KEY), path
        assert client.get(tenant_path(other_tenant, "/tags"), headers=key_header(key)).is_success

    listed = client.get(tenant_path(other_tenant, "/keys"), headers=auth_headers(admin_b))
    assert listed.json()["total"] == 2
    revoke = client.delete(
        tenant_path(other_tenant, f"/keys/{key_of_a.id}"), headers=auth_headers(admin_b)
    )
    assert revoke.status_code == 404
    assert client.get(
        tenant_path(tenant, "/posts"), headers=key_header(plain_key(key_of_a))
    ).is_success


@pytest.mark.parametrize(
    "presented",
    [
        "blog_ck_" + "A" * 55,  # well-formed, unknown
        "blog_ck_short",
        "blog_xx_" + "A" * 55,
        "",
        "Bearer something",
        "blog_ck_" + "é" * 55,
    ],
)
def test_a_bad_key_is_a_401_even_where_no_key_is_needed(
    client: TestClient, tenant: Tenant, presented: str
) -> None:
    for path in ("", "/posts", "/tags", "/users/00000000-0000-0000-0000-000000000000"):
        response = client.get(tenant_path(tenant, path), headers={b"X-API-Key": presented.encode()})
        assert (response.status_code, problem_body(response)) == (401, INVALID_KEY), path


def test_a_token_and_a_key_together_are_a_401(
    client: TestClient, tenant: Tenant, admin: User, auth_headers: AuthHeaders
) -> None:
    key = plain_key(ApiKeyFactory(tenant=tenant))
    response = client.get(
        tenant_path(tenant, "/posts"), headers={**auth_headers(admin), **key_header(key)}
    )
    assert response.status_code == 401


# --- content keys ----------------------------------------------------------------------------


def test_a_content_key_reads_what_anyone_reads_and_nothing_more(
    client: TestClient,
    tenant: Tenant,
    posts_of_every_status: dict[PostStatus, Post],
) -> None:
    key = plain_key(ApiKeyFactory(tenant=tenant))
    published = posts_of_every_status[PostStatus.published]

    assert titles(posts(client, tenant, key)) == {"a published post"}
    assert titles(posts(client, tenant, key)) == titles(client.get(tenant_path(tenant, "/posts")))
    for status in ("draft", "scheduled"):
        refused = posts(client, tenant, key, status=status)
        assert refused.status_code == 403, refused.text
        hidden = posts_of_every_status[PostStatus(status)]
        for path in (f"/posts/{hidden.id}", f"/posts/by-slug/{hidden.slug}"):
            assert client.get(tenant_path(tenant, path), headers=key_header(key)).status_code == 404
    author_page = client.get(
        tenant_path(tenant, f"/users/{published.author_id}/with-posts"), headers=key_header(key)
    )
    assert [post["title"] for post in author_page.json()["posts"]] == ["a published post"]
    for path in ("/tags", f"/posts/{published.id}/comments", f"/users/{published.author_id}", ""):
        assert client.get(tenant_path(tenant, path), headers=key_header(key)).status_code == 200


def test_a_content_key_never_writes(
    client: TestClient,
    tenant: Tenant,
    posts_of_every_status: dict[PostStatus, Post],
    engine: Engine,
) -> None:
    key = key_header(plain_key(ApiKeyFactory(tenant=tenant)))
    post = posts_of_every_status[PostStatus.published]
    writes = [
        ("POST", "/posts", {"title": "t", "description": "d", "body": "b"}),
        ("PATCH", f"/posts/{post.id}", {"title": "changed"}),
        ("DELETE", f"/posts/{post.id}", None),
        ("POST", f"/posts/{post.id}/comments", {"body": "hi"}),
        ("POST", f"/posts/{post.id}/favorite", None),
        ("PATCH", "/users/me", {"name": "x"}),
        ("GET", "/users/me", None),
        ("GET", "/feed", None),
        ("GET", "/users", None),
        ("POST", "/keys", {"kind": "content", "name": "x"}),
    ]
    for method, path, body in writes:
        response = client.request(method, tenant_path(tenant, path), json=body, headers=key)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "api_key_not_allowed"
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM comments")).scalar() == 0
    assert client.patch(tenant_path(tenant), json={"name": "x"}, headers=key).status_code == 403


def test_a_key_in_the_query_string_is_not_read(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    posts_of_every_status: dict[PostStatus, Post],
) -> None:
    key = admin_key(admin, Scope.posts_read)
    for name in ("X-API-Key", "api_key", "key"):
        response = client.get(tenant_path(tenant, "/posts"), params={name: key, "status": "draft"})
        assert response.status_code == 401  # anonymous: drafts need a caller


# --- admin keys ------------------------------------------------------------------------------


def test_an_admin_key_reads_drafts_only_with_posts_read(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    posts_of_every_status: dict[PostStatus, Post],
) -> None:
    reader = admin_key(admin, Scope.posts_read)
    writer = admin_key(admin, Scope.posts_write)
    draft = posts_of_every_status[PostStatus.draft]

    assert titles(posts(client, tenant, reader, status="draft")) == {"a draft post"}
    assert client.get(
        tenant_path(tenant, f"/posts/{draft.id}"), headers=key_header(reader)
    ).is_success
    refused = posts(client, tenant, writer, status="draft")
    assert refused.status_code == 403
    assert "posts:read" in refused.json()["detail"]
    assert titles(posts(client, tenant, writer)) == {"a published post"}  # public reads
    hidden = client.get(tenant_path(tenant, f"/posts/{draft.id}"), headers=key_header(writer))
    assert hidden.status_code == 404


def test_an_admin_key_writes_as_its_creator_within_its_scopes(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    posts_of_every_status: dict[PostStatus, Post],
) -> None:
    writer = key_header(admin_key(admin, Scope.posts_write))
    created = client.post(
        tenant_path(tenant, "/posts"),
        json={"title": "By key", "description": "d", "body": "b", "status": "published"},
        headers=writer,
    )
    assert created.status_code == 201, created.text
    assert created.json()["author"]["id"] == str(admin.id)
    other = posts_of_every_status[PostStatus.draft]
    changed = client.patch(
        tenant_path(tenant, f"/posts/{other.id}"), json={"title": "Edited"}, headers=writer
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Edited"

    outside = [
        ("POST", f"/posts/{created.json()['id']}/comments", {"body": "hi"}),
        ("GET", "/users", None),
        ("GET", "/users/me", None),
        ("PATCH", f"/users/{admin.id}", {"role": "editor"}),
        ("GET", "/keys", None),
    ]
    for method, path, body in outside:
        response = client.request(method, tenant_path(tenant, path), json=body, headers=writer)
        assert response.status_code == 403, (method, path, response.text)
    assert (
        client.delete(tenant_path(tenant, f"/posts/{other.id}"), headers=writer).status_code == 204
    )


def test_members_read_and_comments_moderate_scopes(
    client: TestClient,
    tenant: Tenant,
    admin: User,
    db: Session,
    auth_headers: AuthHeaders,
) -> None:
    post = PostFactory(author=admin)
    comment = client.post(
        tenant_path(tenant, f"/posts/{post.id}/comments"),
        json={"body": "spam"},
        headers=auth_headers(admin),
    ).json()
    members = key_header(admin_key(admin, Scope.members_read))
    moderator = key_header(admin_key(admin, Scope.comments_moderate))

    listed = client.get(tenant_path(tenant, "/users"), headers=members)
    assert listed.status_code == 200
    assert str(admin.id) in {item["id"] for item in listed.json()["items"]}
    assert client.get(tenant_path(tenant, "/users"), headers=moderator).status_code == 403
    comment_path = tenant_path(tenant, f"/posts/{post.id}/comments/{comment['id']}")
    assert client.delete(comment_path, headers=members).status_code == 403
    assert client.delete(comment_path, headers=moderator).status_code == 204


@pytest.mark.parametrize(
    "change",
    [
        {"role": Role.editor},
        {"is_active": False},
    ],
)
def test_an_admin_key_stops_when_its_creator_may_no_longer_use_it(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    change: dict[str, Any],
) -> None:
    owner = user(role=Role.owner)
    creator = user(role=Role.admin)
    key = admin_key(creator, Scope.posts_read)
    assert posts(client, tenant, key, status="draft").status_code == 200

    changed = client.patch(
        tenant_path(tenant, f"/users/{creator.id}"), json=change, headers=auth_headers(owner)
    )

    assert changed.status_code == 200, changed.text
    refused = posts(client, tenant, key)
    assert (refused.status_code, problem_body(refused)) == (401, INVALID_KEY)


def test_an_admin_key_stops_when_its_creator_is_deleted_and_stays_listed(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    owner = user(role=Role.owner)
    creator = user(role=Role.admin)
    key = admin_key(creator, Scope.posts_read)
    content = plain_key(ApiKeyFactory(creator=creator))

    deleted = client.delete(
        tenant_path(tenant, f"/users/{creator.id}"), headers=auth_headers(owner)
    )

    assert deleted.status_code == 204, deleted.text
    assert posts(client, tenant, key).status_code == 401
    assert posts(client, tenant, content).status_code == 200  # content keys act as nobody
    listed = client.get(tenant_path(tenant, "/keys"), headers=auth_headers(owner)).json()
    assert [item["created_by"] for item in listed["items"]] == [None, None]


def test_use_is_recorded_at_most_once_a_minute(
    client: TestClient, tenant: Tenant, admin: User, auth_headers: AuthHeaders
) -> None:
    made = made_key(client, tenant, auth_headers(admin), kind="content", name="site")
    assert made["last_used_at"] is None
    posts(client, tenant, made["key"])
    first = client.get(tenant_path(tenant, "/keys"), headers=auth_headers(admin)).json()
    posts(client, tenant, made["key"])
    second = client.get(tenant_path(tenant, "/keys"), headers=auth_headers(admin)).json()

    assert first["items"][0]["last_used_at"] is not None
    assert second["items"][0]["last_used_at"] == first["items"][0]["last_used_at"]


def test_keyed_answers_never_come_from_the_response_cache(
    client: TestClient, tenant: Tenant, admin: User, posts_of_every_status: dict[PostStatus, Post]
) -> None:
    key = plain_key(ApiKeyFactory(tenant=tenant))
    for _ in range(3):
        public = client.get(tenant_path(tenant, "/posts"))
    assert public.headers["x-cache"] == "hit"
    assert "X-API-Key" in public.headers["vary"]
    for _ in range(3):
        keyed = posts(client, tenant, key)
        assert keyed.status_code == 200
        assert "x-cache" not in keyed.headers


# --- the document ----------------------------------------------------------------------------


def test_openapi_declares_the_key_header_and_the_routes_taking_it(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    paths = schema["paths"]
    prefix = "/api/v1/tenants/{tenant}"
    assert {"ApiKey": []} in paths[f"{prefix}/posts"]["get"]["security"]
    assert {} in paths[f"{prefix}/posts"]["get"]["security"]
    assert {"ApiKey": []} in paths[f"{prefix}/posts"]["post"]["security"]
    assert {"ApiKey": []} in paths[f"{prefix}/users"]["get"]["security"]
    for method, path in (("get", "/users/me"), ("post", "/keys"), ("get", "/feed")):
        assert {"ApiKey": []} not in paths[f"{prefix}{path}"][method]["security"], path
    for item in paths.values():
        for operation in item.values():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            assert not names & {"x-api-key", "api_key", "key"}
