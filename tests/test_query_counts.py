"""N+1 guards: the number of SQL statements a read issues must not grow with the data."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from blog.posts.models import PostStatus
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import QueryCounter, tenant_path
from tests.factories import CommentFactory, FavoriteFactory, PostFactory, UserFactory

MakeUser = Callable[..., User]


def publish_posts(author: User, count: int, *, comments: int = 0) -> None:
    for index in range(count):
        post = PostFactory.create(
            author=author, title=f"Field note {index}", tags=["shared", f"tag{index % 7}"]
        )
        for _ in range(comments):
            CommentFactory.create(post=post, author=author)


def with_posts_queries(
    client: TestClient, queries: QueryCounter, tenant: Tenant, subject: User, **kwargs: object
) -> tuple[int, int]:
    with queries:
        response = client.get(tenant_path(tenant, f"/users/{subject.id}/with-posts"), **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200
    return queries.count, len(response.json()["posts"])


def test_user_with_posts_issues_the_same_queries_for_1_and_200_posts(
    client: TestClient, tenant: Tenant, user: MakeUser, queries: QueryCounter, db: Session
) -> None:
    one, many = user(), user()
    publish_posts(one, 1, comments=1)
    publish_posts(many, 200, comments=1)
    PostFactory.create(author=many, status=PostStatus.draft, tags=["secret"])

    count_for_one, posts_for_one = with_posts_queries(client, queries, tenant, one)
    count_for_many, posts_for_many = with_posts_queries(client, queries, tenant, many)

    assert (posts_for_one, posts_for_many) == (1, 200)
    assert count_for_one == count_for_many
    assert any("posts" in statement for statement in queries.statements)


def test_user_with_drafts_issues_the_same_queries_for_the_author(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: Callable[[User], dict[str, str]],
    queries: QueryCounter,
    db: Session,
) -> None:
    few, many = user(), user()
    publish_posts(few, 1)
    publish_posts(many, 50)
    for author in (few, many):
        PostFactory.create(author=author, status=PostStatus.draft, tags=["draft"])

    count_few, posts_few = with_posts_queries(
        client, queries, tenant, few, headers=auth_headers(few)
    )
    count_many, posts_many = with_posts_queries(
        client, queries, tenant, many, headers=auth_headers(many)
    )

    assert (posts_few, posts_many) == (2, 51)
    assert count_few == count_many


@pytest.mark.parametrize("listing", ["/posts", "/posts?tag=shared", "/posts?q=note"])
def test_post_list_issues_the_same_queries_for_1_and_20_authors(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    queries: QueryCounter,
    db: Session,
    listing: str,
) -> None:
    authors = UserFactory.create_batch(20, tenant=tenant, role=Role.author)
    publish_posts(authors[0], 1)
    with queries:
        first = client.get(tenant_path(tenant, listing))
    count_for_one = queries.count

    for author in authors[1:]:
        publish_posts(author, 2, comments=2)
    with queries:
        second = client.get(tenant_path(tenant, listing))

    assert len(first.json()["items"]) == 1
    assert len(second.json()["items"]) == 20
    assert len({item["author"]["id"] for item in second.json()["items"]}) >= 10
    assert queries.count == count_for_one
    # The list's total and positions (once per blog version), and its page.
    assert len(list_statements(queries)) == 2


def list_statements(queries: QueryCounter) -> list[str]:
    """The statements of a post list itself (not the tenant's or the caller's lookup)."""
    return [statement for statement in queries.statements if "posts" in statement]


@pytest.mark.parametrize("listing", ["/posts", "/posts?offset=3", "/posts?offset=50"])
def test_post_list_reads_total_page_authors_tags_and_favorites_in_one_statement(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: Callable[[User], dict[str, str]],
    queries: QueryCounter,
    db: Session,
    listing: str,
) -> None:
    """Before: a count, the page, its authors, its tags, favorite counts, the caller's own.
    Now the page in one statement; the total once per blog version, not per page."""
    reader = user()
    for author in UserFactory.create_batch(3, tenant=tenant, role=Role.author):
        publish_posts(author, 3)
    FavoriteFactory.create(user=reader, post=PostFactory.create(author=reader, tags=["mine"]))

    for headers, statements in (({}, 2), (auth_headers(reader), 1)):
        with queries:
            response = client.get(tenant_path(tenant, listing), headers=headers)

        assert response.status_code == 200
        assert response.json()["total"] == 10
        assert len(list_statements(queries)) == statements
