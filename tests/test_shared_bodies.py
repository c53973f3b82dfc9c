"""Signed-in readers share one list body, each with their own marks put in.

Every answer the cache builds for a signed-in reader must be byte for byte what the app
answers that reader with no cache at all; whatever the cache cannot verify (a bad,
expired or foreign token, a deactivated member) it leaves to the app.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.app import create_app
from blog.posts.models import PostStatus
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.factories import FavoriteFactory, FollowFactory, PostFactory
from blog.users.models import Role, User
from tests.conduit import conduit_path
from tests.conftest import QueryCounter, tenant_path
from tests.problems import masked

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]

NATIVE_LISTS = ["/posts", "/posts?limit=2", "/posts?limit=2&offset=2", "/posts?tag=shared"]
CONDUIT_LISTS = ["/articles", "/articles?limit=2", "/articles?tag=shared"]


@pytest.fixture
def uncached(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The same app with no response cache: what every reader must get."""
    with TestClient(
        create_app(settings.model_copy(update={"response_cache_mb": 0}), engine=engine)
    ) as client:
        yield client


@pytest.fixture
def readers(db: Session, user: MakeUser) -> list[User]:
    """Three authors' posts; members who favorite and follow differently."""
    alice, bob, carol = user(username="alice"), user(username="bob"), user(username="carol")
    posts = [
        PostFactory.create(author=author, status=PostStatus.published, tags=["shared"])
        for author in (alice, bob, carol, alice, bob)
    ]
    PostFactory.create(author=alice, status=PostStatus.draft, title="Alice's draft")
    FavoriteFactory.create(user=alice, post=posts[1])
    FavoriteFactory.create(user=bob, post=posts[0])
    FavoriteFactory.create(user=bob, post=posts[4])
    FollowFactory.create(follower=alice, followed=bob)
    FollowFactory.create(follower=carol, followed=alice)
    FollowFactory.create(follower=carol, followed=bob)
    db.commit()
    return [alice, bob, carol, user(role=Role.editor)]


def token_header(headers: dict[str, str], scheme: str) -> dict[str, str]:
    return {"Authorization": f"{scheme} {headers['Authorization'].split()[1]}"}


def behind_the_apps_back(engine: Engine, tenant: Tenant, user: User, **values: object) -> None:
    """Change a member's row as an operator's SQL would: no version of the blog moves."""
    with engine.begin() as connection:  # raw-sql: an operator's statement, on purpose
        if engine.dialect.name == "postgresql":  # row-level security: name the blog
            connection.execute(
                sa.text("SELECT set_config('app.tenant_id', :blog, true)"),
                {"blog": str(tenant.id)},
            )
        users = User.__table__  # type: ignore[attr-defined]
        connection.execute(sa.update(users).where(users.c.id == user.id).values(**values))


def read_twice(client: TestClient, url: str) -> httpx.Response:
    client.get(url)  # the cache admits a URL on its second sighting
    return client.get(url)


@pytest.mark.parametrize("path", NATIVE_LISTS)
def test_every_reader_gets_what_the_app_alone_answers_them(
    client: TestClient,
    uncached: TestClient,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
    path: str,
) -> None:
    url = tenant_path(tenant, path)
    read_twice(client, url)

    for reader in readers:
        headers = auth_headers(reader)
        served = client.get(url, headers=headers)

        assert served.headers["x-cache"] == "shared"
        assert served.content == uncached.get(url, headers=headers).content
        assert served.headers["content-length"] == str(len(served.content))
        assert served.headers["cache-control"] == "private, no-cache"


@pytest.mark.parametrize("path", CONDUIT_LISTS)
def test_every_realworld_reader_gets_their_favorites_and_follows(
    client: TestClient,
    uncached: TestClient,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
    path: str,
) -> None:
    url = conduit_path(tenant, path)
    read_twice(client, url)
    marked = 0

    for reader in readers:
        for scheme in ("Token", "Bearer"):
            headers = token_header(auth_headers(reader), scheme)
            served = client.get(url, headers=headers)

            assert served.headers["x-cache"] == "shared"
            assert served.content == uncached.get(url, headers=headers).content
            articles = served.json()["articles"]
            marked += sum(a["favorited"] + a["author"]["following"] for a in articles)
    assert marked > 0  # the fixture's marks show, not only "false" everywhere


def test_a_signed_in_reader_costs_no_query_of_the_app(
    client: TestClient,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
    queries: QueryCounter,
) -> None:
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)

    with queries:
        served = client.get(url, headers=auth_headers(readers[0]))

    assert served.headers["x-cache"] == "shared"
    assert queries.count == 0  # the reader and marks: one query on the cache's connection


def test_marks_written_by_another_worker_show_at_once(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
) -> None:
    carol = readers[2]
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)
    before = client.get(url, headers=auth_headers(carol)).json()["items"]
    target = next(item for item in before if not item["favorited"])

    with TestClient(create_app(settings, engine=engine)) as other_worker:
        favorite = tenant_path(tenant, f"/posts/{target['id']}/favorite")
        assert other_worker.post(favorite, headers=auth_headers(carol)).status_code == 200

    after = client.get(url, headers=auth_headers(carol)).json()["items"]
    mine = {item["id"]: item["favorited"] for item in after}
    assert mine[target["id"]] is True
    counts = {item["id"]: item["favorites_count"] for item in after}
    assert counts[target["id"]] == target["favorites_count"] + 1


@pytest.mark.parametrize("how", ["through the app", "behind its back"])
def test_a_deactivated_member_is_refused_even_with_a_shared_body(
    client: TestClient,
    db: Session,
    engine: Engine,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
    how: str,
) -> None:
    """Through the app, the blog's version moves too; behind its back (an operator's SQL)
    it does not, and the cache's own member check is what refuses the token."""
    alice = readers[0]
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)
    headers = auth_headers(alice)
    assert client.get(url, headers=headers).headers["x-cache"] == "shared"

    if how == "through the app":
        alice.is_active = False
        db.add(alice)
        db.commit()
    else:
        behind_the_apps_back(engine, tenant, alice, is_active=False)

    refused = client.get(url, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["x-cache"] == "miss"
    assert client.get(url, headers=auth_headers(readers[1])).headers["x-cache"] == (
        "shared" if how == "behind its back" else "miss"
    )


def test_a_token_of_an_ended_generation_is_refused_even_with_a_shared_body(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
) -> None:
    """A new password ends every access token at once: the cache's own member check reads
    the generation too (here it is bumped behind the app's back, so no version moves)."""
    alice = readers[0]
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)
    headers = auth_headers(alice)
    assert client.get(url, headers=headers).headers["x-cache"] == "shared"

    behind_the_apps_back(engine, tenant, alice, token_generation=alice.token_generation + 1)

    refused = client.get(url, headers=headers)
    assert (refused.status_code, refused.headers["x-cache"]) == (401, "miss")
    assert client.get(url, headers=auth_headers(readers[1])).headers["x-cache"] == "shared"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Bearer",
        "Token {token}",  # the RealWorld scheme is not the native API's
        "Basic {token}",
        "Bearer {token} extra",
    ],
)
def test_what_the_cache_cannot_verify_goes_to_the_app(
    client: TestClient,
    uncached: TestClient,
    tenant: Tenant,
    readers: list[User],
    auth_headers: AuthHeaders,
    authorization: str,
) -> None:
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)
    token = auth_headers(readers[0])["Authorization"].split()[1]
    headers = {"Authorization": authorization.format(token=token)}

    served = client.get(url, headers=headers)

    assert served.headers["x-cache"] == "miss"
    assert (served.status_code, masked(served)) == (
        (expected := uncached.get(url, headers=headers)).status_code,
        masked(expected),
    )


def test_expired_and_foreign_tokens_are_refused(
    client: TestClient,
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    readers: list[User],
    user: MakeUser,
) -> None:
    url = tenant_path(tenant, "/posts")
    read_twice(client, url)
    tokens = app.state.auth.tokens
    expired = tokens.issue(
        user_id=readers[0].id, tenant_id=tenant.id, generation=0, lifetime=timedelta(seconds=-1)
    )
    stranger = user(tenant=other_tenant)
    foreign = tokens.issue(user_id=stranger.id, tenant_id=other_tenant.id, generation=0)
    # Another blog's token naming a member of this one: the blog check, not the user's.
    forged_home = tokens.issue(user_id=readers[0].id, tenant_id=other_tenant.id, generation=0)

    for token in (expired, foreign, forged_home):
        refused = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert (refused.status_code, refused.headers["x-cache"]) == (401, "miss")


def test_drafts_are_never_shared(
    client: TestClient, tenant: Tenant, readers: list[User], auth_headers: AuthHeaders
) -> None:
    alice, bob, _, editor = readers
    drafts = tenant_path(tenant, "/posts?status=draft")
    for reader in (alice, editor, alice, editor):
        client.get(drafts, headers=auth_headers(reader))

    seen_by_bob = client.get(drafts, headers=auth_headers(bob))

    assert seen_by_bob.headers["x-cache"] == "miss"
    assert seen_by_bob.json()["items"] == []
    published = read_twice(client, tenant_path(tenant, "/posts"))
    assert "Alice's draft" not in published.text


def test_another_blogs_shared_body_is_never_served(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    readers: list[User],
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    PostFactory.create(
        author=user(tenant=other_tenant), status=PostStatus.published, title="Theirs"
    )
    read_twice(client, tenant_path(other_tenant, "/posts"))

    mine = client.get(tenant_path(tenant, "/posts"), headers=auth_headers(readers[0]))

    assert mine.status_code == 200
    assert "Theirs" not in mine.text
