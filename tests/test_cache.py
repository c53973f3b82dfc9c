"""The response cache: fast repeats, and never a stale, foreign or expired answer.

Every test here reads, writes, and reads again: the second read must show the write,
whoever made it (the API, another worker, a factory, the CLI's services).
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.app import create_app
from blog.cache import TenantVersion, bump_versions, lookups_for
from blog.cache.lookups import FoundTenant
from blog.posts.models import PostStatus
from blog.settings import Settings
from blog.tenancy import bind_tenant
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.conftest import QueryCounter, serving, tenant_path
from tests.factories import CommentFactory, PostFactory
from tests.test_accounts import bearer, sessions_of, token_pair

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]


def titles(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [item["title"] for item in body["items"]]


def test_a_repeated_read_costs_no_query_and_says_so_in_its_etag(
    client: TestClient, tenant: Tenant, user: MakeUser, queries: QueryCounter
) -> None:
    PostFactory(author=user(), title="Cached")
    url = tenant_path(tenant, "/posts")

    first = client.get(url)
    with queries:
        client.get(url)  # stored on its second sighting: a URL read once costs no memory
    second_read = queries.count
    with queries:
        again = client.get(url)

    assert again.json() == first.json()
    assert second_read > 0
    assert queries.count == 0  # only the blog's version, on the cache's own connection
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "no-cache"
    assert again.headers["x-content-type-options"] == "nosniff"  # stored with the body
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_every_kind_of_write_shows_in_the_next_read(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    author, fan = user(), user()
    headers = auth_headers(author)
    posts = tenant_path(tenant, "/posts")
    assert titles(client.get(posts)) == []

    made = client.post(
        posts, headers=headers, json={"title": "One", "body": "b", "status": "published"}
    )
    assert titles(client.get(posts)) == ["One"]

    post = made.json()["id"]
    client.patch(tenant_path(tenant, f"/posts/{post}"), headers=headers, json={"title": "Two"})
    assert titles(client.get(posts)) == ["Two"]

    client.post(tenant_path(tenant, f"/posts/{post}/favorite"), headers=auth_headers(fan))
    assert client.get(posts).json()["items"][0]["favorites_count"] == 1

    client.patch(tenant_path(tenant, "/users/me"), headers=headers, json={"name": "Renamed"})
    assert client.get(posts).json()["items"][0]["author"]["name"] == "Renamed"

    comments = tenant_path(tenant, f"/posts/{post}/comments")
    assert client.get(comments).json()["total"] == 0
    client.post(comments, headers=auth_headers(fan), json={"body": "hi"})
    assert client.get(comments).json()["total"] == 1

    client.delete(tenant_path(tenant, f"/posts/{post}"), headers=headers)
    assert titles(client.get(posts)) == []


def test_writes_outside_the_api_show_too(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    """Factories write through their own session, as the CLI and seeding services do."""
    posts = tenant_path(tenant, "/posts")
    assert titles(client.get(posts)) == []

    post = PostFactory(author=user(), title="From a script")
    assert titles(client.get(posts)) == ["From a script"]

    CommentFactory(post=post)
    assert client.get(tenant_path(tenant, f"/posts/{post.id}/comments")).json()["total"] == 1


def test_another_worker_never_serves_a_stale_answer(
    settings: Settings, engine: Engine, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    """Two workers, two caches, one database: the version lives in the database."""
    reader, writer = (TestClient(create_app(settings, engine=engine)) for _ in range(2))
    author = user()
    posts = tenant_path(tenant, "/posts")
    assert titles(reader.get(posts)) == []

    writer.post(
        posts,
        headers=auth_headers(author),
        json={"title": "Written elsewhere", "body": "b", "status": "published"},
    )

    assert titles(reader.get(posts)) == ["Written elsewhere"]


def test_one_viewers_answer_never_reaches_another(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    author, stranger = user(), user()
    draft = PostFactory(author=author, status=PostStatus.draft)
    url = tenant_path(tenant, f"/posts/{draft.id}")

    assert client.get(url, headers=auth_headers(author)).status_code == 200
    assert client.get(url).status_code == 404
    assert client.get(url, headers=auth_headers(stranger)).status_code == 404
    me = tenant_path(tenant, "/users/me")
    assert client.get(me, headers=auth_headers(author)).json()["id"] == str(author.id)
    assert client.get(me, headers=auth_headers(stranger)).json()["id"] == str(stranger.id)


def test_one_blogs_answer_never_reaches_another(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: MakeUser
) -> None:
    PostFactory(author=user(), title="Mine")
    PostFactory(author=user(tenant=other_tenant), title="Theirs")

    assert titles(client.get(tenant_path(tenant, "/posts"))) == ["Mine"]
    assert titles(client.get(tenant_path(other_tenant, "/posts"))) == ["Theirs"]


def test_a_deactivated_account_is_refused_at_once(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    admin, member = user(role="admin"), user()
    me = tenant_path(tenant, "/users/me")
    headers = auth_headers(member)
    assert client.get(me, headers=headers).status_code == 200

    client.patch(
        tenant_path(tenant, f"/users/{member.id}"),
        headers=auth_headers(admin),
        json={"is_active": False},
    )

    assert client.get(me, headers=headers).status_code == 401


def test_an_expired_token_is_not_answered_from_the_cache(
    client: TestClient, app: FastAPI, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    token = app.state.auth.tokens.issue(
        user_id=member.id,
        tenant_id=member.tenant_id,
        generation=member.token_generation,
        lifetime=timedelta(seconds=2),
    )
    headers = {"Authorization": f"Bearer {token}"}
    me = tenant_path(tenant, "/users/me")
    assert client.get(me, headers=headers).status_code == 200

    # Past the expiry by more than a second: python-jose compares whole seconds.
    time.sleep(max(0.0, jwt.get_unverified_claims(token)["exp"] + 1.1 - time.time()))

    assert client.get(me, headers=headers).status_code == 401


def test_an_old_etag_gets_the_new_answer(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    author = user()
    url = tenant_path(tenant, "/posts")
    old = client.get(url).headers["etag"]

    PostFactory(author=author, title="New")
    response = client.get(url, headers={"If-None-Match": old})

    assert response.status_code == 200
    assert titles(response) == ["New"]


@pytest.mark.parametrize("megabytes", [0])
def test_the_cache_can_be_turned_off(
    megabytes: int, settings: Settings, engine: Engine, tenant: Tenant, queries: QueryCounter
) -> None:
    off = TestClient(
        create_app(settings.model_copy(update={"response_cache_mb": megabytes}), engine=engine)
    )
    url = tenant_path(tenant, "/posts")
    off.get(url)

    with queries:
        response = off.get(url)

    assert "etag" not in response.headers
    assert queries.count > 1


def test_many_misses_at_once_never_starve_the_server(
    app: FastAPI, tenant: Tenant, user: MakeUser
) -> None:
    """The version lookup has connections of its own: with every pooled connection held by
    requests, the event loop must not wait for one (that was a deadlock)."""
    author = user()
    for number in range(3):
        PostFactory(author=author, title=f"Post {number}")

    with serving(app) as url, ThreadPoolExecutor(max_workers=48) as pool:

        def cold_read(offset: int) -> int:
            path = tenant_path(tenant, f"/posts?offset={offset}")
            return httpx.get(url + path, timeout=20).status_code

        statuses = list(pool.map(cold_read, range(96)))

    assert statuses == [200] * 96


def test_a_blog_made_again_with_the_same_id_never_reuses_a_version(
    engine: Engine, tenant: Tenant
) -> None:
    """Deleted and imported again (same ids), a blog loses its version row; its next one
    starts from the clock, above any version of its previous life that a server may
    still hold answers for."""
    versions = TenantVersion.__table__  # type: ignore[attr-defined]

    def bound_session() -> Session:
        """The blog's own session: its version row is tenant-owned (row-level security)."""
        session = Session(engine)
        bind_tenant(session, tenant.id)
        return session

    def version() -> int:
        with bound_session() as session:
            found: int = session.execute(
                sa.select(versions.c.version).where(versions.c.tenant_id == tenant.id)
            ).scalar_one()
            return found

    def bump() -> None:
        with bound_session() as session:
            bump_versions(session, {tenant.id})
            session.commit()

    bump()
    for _ in range(50):
        bump()
    old_life = version()
    with bound_session() as session:  # the row goes as the blog's deletion takes it
        deleted = session.execute(sa.delete(versions).where(versions.c.tenant_id == tenant.id))
        assert deleted.rowcount == 1  # type: ignore[attr-defined]
        session.commit()
    bump()

    assert version() > old_life


def test_the_lookup_reads_a_blogs_version_as_that_blog(engine: Engine, tenant: Tenant) -> None:
    """The cache finds a blog by its slug before any blog is bound: on PostgreSQL it
    binds the blog it finds, or row-level security would hide the version (always 0, and
    the cache would serve stale answers). A missing slug finds nothing."""
    versions = TenantVersion.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        bind_tenant(session, tenant.id)
        bump_versions(session, {tenant.id})
        session.commit()
        version = session.execute(
            sa.select(versions.c.version).where(versions.c.tenant_id == tenant.id)
        ).scalar_one()

    async def look(*slugs: str) -> list[FoundTenant | None]:
        lookups = lookups_for(engine)
        try:
            return [await lookups.tenant(slug) for slug in slugs]
        finally:
            await lookups.close()

    found, missing = asyncio.run(look(tenant.slug, "no-such-blog"))

    assert found is not None
    assert found.id == tenant.id
    assert found.version == version > 0
    assert missing is None


def test_a_new_login_shows_in_the_sessions_list_at_once(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    """Logins are no blog content (they move no version), so their list is never kept:
    read three times (stored on the second sighting, served on the third), then once more
    after a login on another device."""
    member = user()
    laptop = token_pair(client, tenant, member.username, **{"User-Agent": "Laptop/1.0"})
    for _ in range(3):
        assert len(sessions_of(client, tenant, bearer(laptop))) == 1

    token_pair(client, tenant, member.username, **{"User-Agent": "Phone/2.0"})
    listed = client.get(tenant_path(tenant, "/users/me/sessions"), headers=bearer(laptop))

    assert sorted(s["user_agent"] for s in listed.json()) == ["Laptop/1.0", "Phone/2.0"]
    assert listed.headers["x-cache"] == "miss"
    assert listed.headers["cache-control"] == "no-store"
