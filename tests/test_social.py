"""Following members (and the feed of their posts), and favorite posts with counts."""

import uuid
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from blog.database import utcnow
from blog.posts.models import Favorite, Post, PostStatus
from blog.tenancy import cross_tenant
from blog.tenants.models import Tenant
from blog.users.models import Follow, User
from tests.conftest import QueryCounter, tenant_path
from tests.factories import FavoriteFactory, FollowFactory, PostFactory
from tests.problems import problem_body

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]


def count(engine: Engine, model: type[Follow] | type[Favorite]) -> int:
    with Session(engine) as session, cross_tenant(session, "counting rows in a test"):
        return session.exec(select(func.count()).select_from(model)).one()


def test_follow_and_unfollow_are_idempotent(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, engine: Engine
) -> None:
    fan, star = user(), user()
    url = tenant_path(tenant, f"/users/{star.id}/follow")

    first = client.post(url, headers=auth_headers(fan))
    again = client.post(url, headers=auth_headers(fan))
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["following"] is True
    assert first.json()["id"] == str(star.id)
    assert "email" not in first.json()
    assert count(engine, Follow) == 1

    gone = client.delete(url, headers=auth_headers(fan))
    gone_again = client.delete(url, headers=auth_headers(fan))
    assert gone.json()["following"] is False
    assert gone_again.status_code == 200
    assert count(engine, Follow) == 0


def test_following_yourself_is_422(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    me = user()

    response = client.post(tenant_path(tenant, f"/users/{me.id}/follow"), headers=auth_headers(me))

    assert response.status_code == 422
    assert response.json()["code"] == "cannot_follow_self"


def test_following_another_blogs_member_is_404_like_an_unknown_one(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    fan, outsider = user(), user(tenant=other_tenant)

    foreign = client.post(
        tenant_path(tenant, f"/users/{outsider.id}/follow"), headers=auth_headers(fan)
    )
    unknown = client.post(
        tenant_path(tenant, f"/users/{uuid.uuid4()}/follow"), headers=auth_headers(fan)
    )

    assert foreign.status_code == unknown.status_code == 404
    assert problem_body(foreign) == problem_body(unknown)


def test_feed_has_the_published_posts_of_followed_authors_newest_first(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    db: Session,
) -> None:
    fan, followed, other_followed, stranger = user(), user(), user(), user()
    for star in (followed, other_followed):
        FollowFactory.create(follower=fan, followed=star)
    now = utcnow()
    older: Post = PostFactory.create(author=followed, published_at=now - timedelta(days=2))
    newer: Post = PostFactory.create(author=other_followed, published_at=now - timedelta(days=1))
    PostFactory.create(author=followed, status=PostStatus.draft)
    PostFactory.create(author=stranger)
    PostFactory.create(author__tenant=other_tenant)

    feed = client.get(tenant_path(tenant, "/feed"), headers=auth_headers(fan)).json()
    page = client.get(tenant_path(tenant, "/feed?limit=1&offset=1"), headers=auth_headers(fan))

    assert [item["id"] for item in feed["items"]] == [str(newer.id), str(older.id)]
    assert feed["total"] == 2
    assert [item["id"] for item in page.json()["items"]] == [str(older.id)]
    assert page.json()["total"] == 2


def test_feed_needs_a_login(client: TestClient, tenant: Tenant) -> None:
    assert client.get(tenant_path(tenant, "/feed")).status_code == 401


def test_favorites_are_counted_and_marked_per_caller(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    author, fan, other = user(), user(), user()
    post: Post = PostFactory.create(author=author)
    FavoriteFactory.create(post=post, user=other)
    url = tenant_path(tenant, f"/posts/{post.id}/favorite")

    marked = client.post(url, headers=auth_headers(fan)).json()
    again = client.post(url, headers=auth_headers(fan)).json()
    anonymous = client.get(tenant_path(tenant, f"/posts/{post.id}")).json()
    as_fan = client.get(tenant_path(tenant, "/posts"), headers=auth_headers(fan)).json()

    assert (marked["favorites_count"], marked["favorited"]) == (2, True)
    assert (again["favorites_count"], again["favorited"]) == (2, True)
    assert (anonymous["favorites_count"], anonymous["favorited"]) == (2, False)
    assert [(i["favorites_count"], i["favorited"]) for i in as_fan["items"]] == [(2, True)]

    unmarked = client.delete(url, headers=auth_headers(fan)).json()
    assert (unmarked["favorites_count"], unmarked["favorited"]) == (1, False)


def test_posts_can_be_listed_by_who_favorited_them(
    client: TestClient, tenant: Tenant, user: MakeUser, db: Session
) -> None:
    fan = user(username="fan")
    liked: Post = PostFactory.create(author=user())
    PostFactory.create(author=user())
    FavoriteFactory.create(post=liked, user=fan)

    listed = client.get(tenant_path(tenant, "/posts?favorited=FAN")).json()

    assert [item["id"] for item in listed["items"]] == [str(liked.id)]
    assert listed["total"] == 1


def test_a_draft_cannot_be_favorited_by_who_cannot_see_it(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    draft: Post = PostFactory.create(author=user(), status=PostStatus.draft)

    response = client.post(
        tenant_path(tenant, f"/posts/{draft.id}/favorite"), headers=auth_headers(user())
    )

    assert response.status_code == 404


def test_favoriting_needs_a_login(client: TestClient, tenant: Tenant, db: Session) -> None:
    post: Post = PostFactory.create(author__tenant=tenant)

    assert client.post(tenant_path(tenant, f"/posts/{post.id}/favorite")).status_code == 401


def test_deleting_an_account_removes_its_follows_and_favorites_only(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    engine: Engine,
    db: Session,
) -> None:
    leaving, staying, star = user(), user(), user()
    post: Post = PostFactory.create(author=star)
    for member in (leaving, staying):
        FollowFactory.create(follower=member, followed=star)
        FavoriteFactory.create(post=post, user=member)
    FollowFactory.create(follower=star, followed=leaving)

    client.delete(tenant_path(tenant, "/users/me"), headers=auth_headers(leaving))

    assert count(engine, Follow) == 1
    assert count(engine, Favorite) == 1
    assert client.get(tenant_path(tenant, f"/posts/{post.id}")).json()["favorites_count"] == 1


def test_feed_queries_do_not_grow_with_followed_authors(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    queries: QueryCounter,
    db: Session,
) -> None:
    fan = user()
    stars = [user() for _ in range(15)]
    FollowFactory.create(follower=fan, followed=stars[0])
    FavoriteFactory.create(post=PostFactory.create(author=stars[0], tags=["a"]), user=fan)
    with queries:
        client.get(tenant_path(tenant, "/feed"), headers=auth_headers(fan))
    few = queries.count

    for star in stars[1:]:
        FollowFactory.create(follower=fan, followed=star)
        FavoriteFactory.create(post=PostFactory.create(author=star, tags=["b", "c"]), user=fan)
    with queries:
        response = client.get(tenant_path(tenant, "/feed"), headers=auth_headers(fan))

    assert response.json()["total"] == 15
    assert queries.count == few
