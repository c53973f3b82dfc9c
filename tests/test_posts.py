"""Posts, comments and tags through the HTTP API.

Covers writing, reading, listing, changing and deleting posts (with their slugs,
tags and the draft/published visibility rules), comments on posts, the tag cloud,
and that nothing of one tenant is reachable under another tenant's path.
"""

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from blog.database import new_session, utcnow
from blog.pagination import CursorPage
from blog.posts import listing
from blog.posts.listing import encode_cursor
from blog.posts.models import Comment, Favorite, Post, PostStatus, Tag
from blog.posts.schemas import AuthorData, PostListItem, PostSummary, PostSummaryData
from blog.tenancy import bind_tenant
from blog.tenants.models import Tenant
from blog.testing.factories import CommentFactory, FavoriteFactory, PostFactory
from blog.users.models import Role, User
from blog.users.schemas import UserPublic
from tests.conftest import tenant_path
from tests.problems import problem_body

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
Headers = dict[str, str] | None

EDITOR_ROLES = [Role.editor, Role.admin, Role.owner]
WRITER_ROLES = [Role.author, *EDITOR_ROLES]
POST_KEYS = {
    "id",
    "slug",
    "title",
    "description",
    "body",
    "status",
    "tags",
    "published_at",
    "created_at",
    "updated_at",
    "author",
    "favorites_count",
    "favorited",
}
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"


# --- Helpers ----------------------------------------------------------------------------------


def posts_path(tenant: Tenant, suffix: str = "") -> str:
    return tenant_path(tenant, f"/posts{suffix}")


def post_path(tenant: Tenant, post_id: uuid.UUID | str, suffix: str = "") -> str:
    return posts_path(tenant, f"/{post_id}{suffix}")


def create_post(
    client: TestClient, tenant: Tenant, headers: Headers, **fields: object
) -> httpx.Response:
    body: dict[str, object] = {"title": "A title", "body": "Some text.", **fields}
    return client.post(posts_path(tenant), json=body, headers=headers)


def created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def read_post(
    client: TestClient, tenant: Tenant, post_id: uuid.UUID | str, headers: Headers = None
) -> httpx.Response:
    return client.get(post_path(tenant, post_id), headers=headers)


def read_by_slug(
    client: TestClient, tenant: Tenant, slug: str, headers: Headers = None
) -> httpx.Response:
    return client.get(posts_path(tenant, f"/by-slug/{slug}"), headers=headers)


def update_post(
    client: TestClient,
    tenant: Tenant,
    post_id: uuid.UUID | str,
    headers: Headers,
    **changes: object,
) -> httpx.Response:
    return client.patch(post_path(tenant, post_id), json=changes, headers=headers)


def delete_post(
    client: TestClient, tenant: Tenant, post_id: uuid.UUID | str, headers: Headers
) -> httpx.Response:
    return client.delete(post_path(tenant, post_id), headers=headers)


def list_posts(
    client: TestClient, tenant: Tenant, headers: Headers = None, /, **params: str | int
) -> httpx.Response:
    return client.get(posts_path(tenant), params=params, headers=headers)


def listed_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def ids(*posts: Post | Comment) -> list[str]:
    return [str(item.id) for item in posts]


def list_comments(
    client: TestClient,
    tenant: Tenant,
    post_id: uuid.UUID | str,
    headers: Headers = None,
    **params: str | int,
) -> httpx.Response:
    return client.get(post_path(tenant, post_id, "/comments"), params=params, headers=headers)


def add_comment(
    client: TestClient,
    tenant: Tenant,
    post_id: uuid.UUID | str,
    headers: Headers,
    body: str = "Nice post.",
) -> httpx.Response:
    return client.post(
        post_path(tenant, post_id, "/comments"), json={"body": body}, headers=headers
    )


def delete_comment(
    client: TestClient,
    tenant: Tenant,
    post_id: uuid.UUID | str,
    comment_id: uuid.UUID | str,
    headers: Headers,
) -> httpx.Response:
    return client.delete(post_path(tenant, post_id, f"/comments/{comment_id}"), headers=headers)


def list_tags(client: TestClient, tenant: Tenant, **params: str | int) -> httpx.Response:
    return client.get(tenant_path(tenant, "/tags"), params=params)


def tag_counts(response: httpx.Response) -> list[tuple[str, int]]:
    assert response.status_code == 200, response.text
    return [(item["name"], item["posts_count"]) for item in response.json()["items"]]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def published_post(author: User, **fields: Any) -> Post:
    made: Post = PostFactory.create(author=author, **fields)
    return made


def draft_post(author: User, **fields: Any) -> Post:
    made: Post = PostFactory.create(author=author, status=PostStatus.draft, **fields)
    return made


def comment_on(post: Post, author: User, **fields: Any) -> Comment:
    made: Comment = CommentFactory.create(post=post, author=author, **fields)
    return made


# --- POST /posts ------------------------------------------------------------------------------


def test_create_post_returns_the_full_post(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()

    response = create_post(
        client,
        tenant,
        auth_headers(me),
        title="My first post",
        body="# Hello\n\nMarkdown body.",
        description="A summary.",
        tags=["python"],
    )

    assert response.status_code == 201
    post = response.json()
    assert set(post) == POST_KEYS
    uuid.UUID(post["id"])
    assert post["slug"] == "my-first-post"
    assert post["title"] == "My first post"
    assert post["description"] == "A summary."
    assert post["body"] == "# Hello\n\nMarkdown body."
    assert post["tags"] == ["python"]
    assert post["author"]["id"] == str(me.id)
    assert post["author"]["username"] == me.username
    assert post["created_at"] == post["updated_at"]


def test_create_post_shows_the_authors_public_profile_without_email(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()

    post = created(create_post(client, tenant, auth_headers(me)))

    assert "email" not in post["author"]
    assert me.email not in str(post)
    assert not any("password" in key for key in post["author"])


def test_create_post_is_a_draft_by_default(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    response = create_post(client, tenant, auth_headers(user()))

    post = created(response)
    assert post["status"] == "draft"
    assert post["published_at"] is None
    assert post["description"] == ""
    assert post["tags"] == []


def test_create_published_post_sets_published_at(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    before = utcnow()

    post = created(create_post(client, tenant, auth_headers(user()), status="published"))

    assert post["status"] == "published"
    assert before <= at(post["published_at"]) <= utcnow()


def test_created_post_can_be_read_back(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(create_post(client, tenant, auth_headers(me), tags=["a", "b"]))

    response = read_post(client, tenant, post["id"], auth_headers(me))

    assert response.status_code == 200
    assert response.json() == post


@pytest.mark.parametrize("role", WRITER_ROLES)
def test_authors_and_above_may_create_posts(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    me = user(role=role)

    response = create_post(client, tenant, auth_headers(me))

    assert response.status_code == 201
    assert response.json()["author"]["id"] == str(me.id)


def test_create_post_as_reader_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    editor = user(role=Role.editor)

    response = create_post(client, tenant, auth_headers(user(role=Role.reader)))

    assert response.status_code == 403
    assert list_posts(client, tenant, auth_headers(editor), status="draft").json()["total"] == 0


def test_create_post_anonymous_is_401(client: TestClient, tenant: Tenant) -> None:
    response = create_post(client, tenant, None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("author_id", "00000000-0000-7000-8000-000000000001"),
        ("tenant_id", "00000000-0000-7000-8000-000000000002"),
        ("id", "00000000-0000-7000-8000-000000000003"),
        ("slug", "chosen-slug"),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_create_post_with_an_unknown_field_is_422_and_creates_nothing(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    field: str,
    value: str,
) -> None:
    editor = user(role=Role.editor)

    response = create_post(client, tenant, auth_headers(editor), **{field: value})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert list_posts(client, tenant, auth_headers(editor), status="draft").json()["total"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "t" * 201},
        {"body": ""},
        {"tags": [f"tag{i}" for i in range(11)]},
        {"tags": ["t" * 51]},
        {"tags": ["ok", "  "]},
        {"tags": [""]},
        {"tags": ["\u0130" * 26]},  # "İ" lower-cases to two characters: 52 once normalized
    ],
    ids=[
        "empty-title",
        "blank-title",
        "title-over-200",
        "empty-body",
        "11-tags",
        "tag-over-50",
        "blank-tag",
        "empty-tag",
        "tag-over-50-once-lower-cased",
    ],
)
def test_create_post_with_invalid_input_is_422(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    fields: dict[str, object],
) -> None:
    editor = user(role=Role.editor)

    response = create_post(client, tenant, auth_headers(editor), **fields)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert list_posts(client, tenant, auth_headers(editor), status="draft").json()["total"] == 0


def test_create_post_at_the_limits_is_allowed(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    tags = ["t" * 50, *(f"tag{i}" for i in range(9))]

    response = create_post(client, tenant, auth_headers(user()), title="t" * 200, tags=tags)

    post = created(response)
    assert post["title"] == "t" * 200
    assert post["tags"] == tags


# --- Slugs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Привет, мир", "privet-mir"),
        ("你好世界", "ni-hao-shi-jie"),
    ],
)
def test_slug_is_made_from_the_title(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    title: str,
    slug: str,
) -> None:
    post = created(create_post(client, tenant, auth_headers(user()), title=title))

    assert post["slug"] == slug
    assert post["title"] == title


def test_emoji_only_title_gets_a_usable_slug(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()

    post = created(create_post(client, tenant, auth_headers(me), title="🎉🚀"))

    assert post["slug"]
    assert post["slug"].isascii()
    assert read_by_slug(client, tenant, post["slug"], auth_headers(me)).json()["id"] == post["id"]


def test_two_posts_with_the_same_title_get_distinct_slugs(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    first = created(create_post(client, tenant, auth_headers(me), title="Same title"))

    second = created(create_post(client, tenant, auth_headers(user()), title="Same title"))

    assert first["slug"] == "same-title"
    assert second["slug"] != first["slug"]
    assert second["slug"].startswith("same-title")
    for post in (first, second):
        found = read_by_slug(client, tenant, post["slug"], auth_headers(user(role=Role.editor)))
        assert found.json()["id"] == post["id"]


def test_same_title_in_another_tenant_takes_the_plain_slug(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    outsider = user(tenant=other_tenant)
    created(create_post(client, other_tenant, auth_headers(outsider), title="Hello, World!"))

    post = created(create_post(client, tenant, auth_headers(user()), title="Hello, World!"))

    assert post["slug"] == "hello-world"


def test_renaming_a_never_published_draft_changes_its_slug(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(create_post(client, tenant, auth_headers(me), title="Working title"))

    response = update_post(client, tenant, post["id"], auth_headers(me), title="Final title")

    assert response.status_code == 200
    assert response.json()["slug"] == "final-title"
    assert read_by_slug(client, tenant, "final-title", auth_headers(me)).status_code == 200
    assert read_by_slug(client, tenant, "working-title", auth_headers(me)).status_code == 404


def test_renaming_a_draft_to_a_taken_title_gets_a_distinct_slug(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    created(create_post(client, tenant, auth_headers(me), title="Taken"))
    post = created(create_post(client, tenant, auth_headers(me), title="Other"))

    response = update_post(client, tenant, post["id"], auth_headers(me), title="Taken")

    assert response.status_code == 200
    assert response.json()["slug"] != "taken"
    assert response.json()["slug"].startswith("taken")


def test_renaming_a_published_post_keeps_its_slug(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(
        create_post(client, tenant, auth_headers(me), title="Launch day", status="published")
    )

    response = update_post(client, tenant, post["id"], auth_headers(me), title="Launch week")

    assert response.status_code == 200
    assert response.json()["title"] == "Launch week"
    assert response.json()["slug"] == "launch-day"
    assert read_by_slug(client, tenant, "launch-day").json()["title"] == "Launch week"


def test_renaming_a_once_published_draft_keeps_its_slug(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(
        create_post(client, tenant, auth_headers(me), title="Launch day", status="published")
    )
    update_post(client, tenant, post["id"], auth_headers(me), status="draft")

    response = update_post(client, tenant, post["id"], auth_headers(me), title="Launch week")

    assert response.status_code == 200
    assert response.json()["slug"] == "launch-day"


# --- Tags on posts ----------------------------------------------------------------------------


def test_tags_are_trimmed_lower_cased_and_deduplicated_keeping_first_place(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    tags = [" Python ", "SQL", "python", "Web ", "sql"]

    post = created(create_post(client, tenant, auth_headers(user()), tags=tags))

    assert post["tags"] == ["python", "sql", "web"]


def test_tag_order_is_kept_everywhere_a_post_is_shown(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    tags = ["zeta", "alpha", "mid"]

    post = created(create_post(client, tenant, auth_headers(user()), tags=tags, status="published"))

    assert post["tags"] == tags
    assert read_post(client, tenant, post["id"]).json()["tags"] == tags
    assert read_by_slug(client, tenant, post["slug"]).json()["tags"] == tags
    assert list_posts(client, tenant).json()["items"][0]["tags"] == tags


# --- GET /posts -------------------------------------------------------------------------------


def test_list_posts_shows_published_posts_newest_first(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    now = utcnow()
    oldest = published_post(me, published_at=now - timedelta(hours=3))
    newest = published_post(me, published_at=now - timedelta(hours=1))
    middle = published_post(me, published_at=now - timedelta(hours=2))
    draft_post(me)

    response = list_posts(client, tenant)

    assert listed_ids(response) == ids(newest, middle, oldest)
    assert response.json()["total"] == 3


def test_list_posts_items_have_author_and_tags_but_no_body(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    published_post(me, tags=["b", "a"])

    response = list_posts(client, tenant)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset", "next"}
    (item,) = body["items"]
    assert set(item) == POST_KEYS - {"body"} | {"snippet"}
    assert item["snippet"] is None  # only a search's items have one
    assert item["author"]["id"] == str(me.id)
    assert "email" not in item["author"]
    assert item["tags"] == ["b", "a"]


def test_list_posts_pages_with_limit_and_offset(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    now = utcnow()
    posts = [published_post(me, published_at=now - timedelta(minutes=i)) for i in range(5)]

    response = list_posts(client, tenant, limit=2, offset=1)

    assert listed_ids(response) == ids(*posts[1:3])
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)


def test_list_posts_filters_by_author_username_ignoring_case(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    alice = user(username="Alice")
    mine = published_post(alice)
    published_post(user())
    draft_post(alice)

    response = list_posts(client, tenant, author="aLICE")

    assert listed_ids(response) == ids(mine)
    assert response.json()["total"] == 1


def test_list_posts_filters_by_tag(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    me = user()
    now = utcnow()
    tagged = published_post(me, tags=["sql", "python"], published_at=now)
    other = published_post(me, tags=["python"], published_at=now - timedelta(hours=1))
    published_post(me, tags=["sqlite"])
    published_post(me)
    draft_post(me, tags=["python"])

    response = list_posts(client, tenant, tag="python")

    assert listed_ids(response) == ids(tagged, other)
    assert response.json()["total"] == 2


@pytest.mark.parametrize("field", ["title", "description", "body"])
def test_list_posts_search_matches_title_description_or_body_ignoring_case(
    client: TestClient, tenant: Tenant, user: UserMaker, field: str
) -> None:
    me = user()
    plain = {"title": "Plain", "description": "Plain", "body": "Plain"}
    match = published_post(me, **{**plain, field: "About ZanziBar and more"})
    published_post(me, **plain)
    draft_post(me, **{**plain, field: "Zanzibar draft"})

    response = list_posts(client, tenant, q="zANZIBAR")

    assert listed_ids(response) == ids(match)
    assert response.json()["total"] == 1


@pytest.mark.parametrize("q", ["émile", "ÉMILE", "éMiLe"])
def test_list_posts_search_ignores_case_of_non_ascii_text(
    client: TestClient, tenant: Tenant, user: UserMaker, q: str
) -> None:
    me = user()
    match = published_post(me, title="Notes on Émile Zola")
    published_post(me, title="Plain title", description="Plain", body="Plain body")

    response = list_posts(client, tenant, q=q)

    assert listed_ids(response) == ids(match)


@pytest.mark.parametrize("q", ["%", "_", "-", '""', "-price", "or"])
def test_list_posts_search_without_a_word_to_find_finds_nothing(
    client: TestClient, tenant: Tenant, user: UserMaker, q: str
) -> None:
    """Punctuation, an excluded word alone, a bare ``or``: no word to look for."""
    me = user()
    published_post(me, title="Half_price: 50% off - or not", description="", body="x")
    published_post(me, title="Plain title", description="Plain", body="Plain body")

    response = list_posts(client, tenant, q=q)

    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"author": "alice", "tag": "python"}, ["alice_fast", "alice_slow"]),
        ({"author": "alice", "tag": "python", "q": "fast"}, ["alice_fast"]),
        ({"tag": "python", "q": "fast", "order": "newest"}, ["alice_fast", "bob_fast"]),
        ({"author": "bob", "tag": "sql"}, []),
    ],
)
def test_list_posts_combines_filters_and_counts_only_matches(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    params: dict[str, str],
    expected: list[str],
) -> None:
    alice, bob = user(username="alice"), user(username="bob")
    now = utcnow()

    def make(author: User, title: str, tags: list[str], age: int) -> Post:
        return published_post(
            author,
            title=title,
            description="",
            body="text",
            tags=tags,
            published_at=now - timedelta(minutes=age),
        )

    posts = {
        "alice_fast": make(alice, "Fast tips", ["python"], 1),
        "alice_slow": make(alice, "Slow tips", ["python"], 2),
        "alice_sql": make(alice, "Fast queries", ["sql"], 3),
        "bob_fast": make(bob, "Fast too", ["python"], 4),
    }

    response = list_posts(client, tenant, limit=1, **params)

    body = response.json()
    assert body["total"] == len(expected)
    assert listed_ids(response) == ids(*(posts[name] for name in expected[:1]))


def test_list_posts_never_shows_another_tenants_posts(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: UserMaker
) -> None:
    mine = published_post(user(), tags=["python"], title="Python tips")
    published_post(user(tenant=other_tenant, username="alice"), tags=["python"], title="Python")

    for params in ({}, {"tag": "python"}, {"q": "python"}):
        response = list_posts(client, tenant, **params)
        assert listed_ids(response) == ids(mine), params
        assert response.json()["total"] == 1
    assert list_posts(client, tenant, author="alice").json()["total"] == 0


def test_list_drafts_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    draft_post(user())

    response = list_posts(client, tenant, status="draft")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_list_drafts_shows_an_author_only_their_own(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    mine = draft_post(me)
    published_post(me)
    draft_post(user())

    response = list_posts(client, tenant, auth_headers(me), status="draft")

    assert listed_ids(response) == ids(mine)
    assert response.json()["total"] == 1
    assert response.json()["items"][0]["status"] == "draft"


@pytest.mark.parametrize("role", EDITOR_ROLES)
def test_list_drafts_shows_editors_every_draft_of_the_tenant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    role: Role,
) -> None:
    drafts = {draft_post(user()).id, draft_post(user()).id}
    published_post(user())
    draft_post(user(tenant=other_tenant))

    response = list_posts(client, tenant, auth_headers(user(role=role)), status="draft")

    assert set(listed_ids(response)) == {str(post_id) for post_id in drafts}
    assert response.json()["total"] == 2


# --- The lean list answers exactly what the straightforward one did ----------------------------


PAGE_ADAPTER: TypeAdapter[CursorPage[PostListItem]] = TypeAdapter(CursorPage[PostListItem])


def straightforward_list(
    engine: Engine, tenant: Tenant, viewer: User | None, **query: Any
) -> bytes:
    """GET /posts built the plain way, as an oracle: ORM posts with selectinload, counted,
    favorite marks read per post, ``PostListItem`` models serialized by pydantic. (Search,
    ``q``, has its own tests: tests/test_search.py.)"""
    limit, offset = query.pop("limit", 20), query.pop("offset", 0)
    status = PostStatus(query.pop("status", "published"))
    key = col(Post.published_at) if status == PostStatus.published else col(Post.created_at)
    criteria: list[Any] = [col(Post.status) == status]
    editor = viewer is not None and viewer.role.at_least(Role.editor)
    if status == PostStatus.draft and not editor:
        criteria.append(col(Post.author_id) == (viewer.id if viewer else None))
    if "author" in query:
        criteria.append(col(User.username_key) == query["author"].lower())
    if "tag" in query:
        criteria.append(Post.tags.any(col(Tag.name) == query["tag"]))  # type: ignore[attr-defined]
    if "favorited" in query:
        fans = select(User.id).where(col(User.username_key) == query["favorited"].lower())
        favorites = select(Favorite.post_id).where(col(Favorite.user_id).in_(fans))
        criteria.append(col(Post.id).in_(favorites))
    with new_session(engine) as session:
        bind_tenant(session, tenant.id)
        matching = (
            select(Post)
            .outerjoin(Post.author)  # type: ignore[arg-type]
            .where(*criteria)
            .options(selectinload(Post.author), selectinload(Post.tags))  # type: ignore[arg-type]
        )
        total = len(session.exec(matching).all())
        posts = session.exec(
            matching.order_by(key.desc(), col(Post.id).desc()).offset(offset).limit(limit)
        ).all()
        items = []
        for post in posts:
            marks = list(
                session.exec(select(Favorite.user_id).where(col(Favorite.post_id) == post.id))
            )
            items.append(
                PostListItem.model_validate(post).model_copy(
                    update={
                        "favorites_count": len(marks),
                        "favorited": viewer is not None and viewer.id in marks,
                    }
                )
            )
    last = posts[-1] if posts else None
    more = offset + len(posts) < total
    after = last and (last.published_at if status == PostStatus.published else last.created_at)
    page = CursorPage[PostListItem](
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next=encode_cursor(after, last.id) if more and last and after else None,
    )
    return PAGE_ADAPTER.dump_json(page, by_alias=True)


@pytest.fixture
def varied_blog(db: Session, tenant: Tenant, other_tenant: Tenant, user: UserMaker) -> list[User]:
    """Posts with every shape a list item can take: no author, ordered and unicode tags,
    favorites, equal publication times, drafts; and another blog's posts."""
    alice, bob, gone = user(username="Alice"), user(), user()
    editor = user(role=Role.editor)
    now = utcnow().replace(microsecond=0)  # a whole second: how pydantic prints it matters
    tie = now - timedelta(hours=5)
    posts = [
        published_post(alice, title="Привет, мир 🎉", tags=["zeta", "alpha", "μ"]),
        published_post(
            bob,
            title='Quotes " and \\ backslash',
            description="line\u2028separator <b>&amp;</b>",
            published_at=now - timedelta(hours=1, microseconds=120),
        ),
        *(published_post(alice, published_at=tie, tags=["tie"]) for _ in range(4)),
        *(published_post(bob, published_at=now - timedelta(days=i)) for i in range(2, 6)),
        published_post(gone, tags=["orphan"], published_at=now - timedelta(hours=3)),
    ]
    draft_post(alice, tags=["draft"])
    draft_post(bob)
    for fan, post in [(alice, posts[0]), (bob, posts[0]), (editor, posts[1]), (alice, posts[3])]:
        FavoriteFactory.create(user=fan, post=post)
    db.execute(
        sa.update(Post).where(col(Post.author_id) == gone.id).values(author_id=None),
        execution_options={"synchronize_session": False},
    )
    db.commit()
    published_post(user(tenant=other_tenant), title="Elsewhere", tags=["alpha"])
    return [alice, bob, editor]


LISTINGS: list[dict[str, Any]] = [
    {},
    *({"limit": limit, "offset": offset} for limit in (1, 2, 3) for offset in range(12)),
    {"offset": 11},
    {"offset": 12},
    {"offset": 500},
    {"author": "alice"},
    {"author": "ALICE", "offset": 2, "limit": 2},
    {"author": "nobody"},
    {"tag": "tie", "offset": 1, "limit": 2},
    {"tag": "alpha"},
    {"favorited": "alice"},
    {"favorited": "alice", "tag": "tie"},
]


@pytest.mark.parametrize("caller", ["anonymous", "alice", "bob", "editor"])
def test_list_is_byte_for_byte_what_the_straightforward_list_answered(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    varied_blog: list[User],
    auth_headers: AuthHeaders,
    caller: str,
) -> None:
    alice, bob, editor = varied_blog
    viewer = {"anonymous": None, "alice": alice, "bob": bob, "editor": editor}[caller]
    headers = auth_headers(viewer) if viewer else None
    listings = LISTINGS + (
        [{"status": "draft"}, {"status": "draft", "offset": 1}] if viewer else []
    )

    for query in listings:
        response = list_posts(client, tenant, headers, **query)

        assert response.status_code == 200, query
        assert response.headers["content-type"] == "application/json", query
        assert response.content == straightforward_list(engine, tenant, viewer, **query), query


@pytest.mark.parametrize("caller", ["anonymous", "alice"])
def test_deep_pages_from_known_positions_are_what_the_straightforward_list_answered(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    varied_blog: list[User],
    auth_headers: AuthHeaders,
    caller: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A position every 2 posts (every 256 in production): each deep page starts from one."""
    monkeypatch.setattr(listing, "STEP", 2)
    viewer = {"anonymous": None, "alice": varied_blog[0]}[caller]
    headers = auth_headers(viewer) if viewer else None

    for query in LISTINGS:
        for _ in range(2):  # the first read counts the positions, the second uses them
            response = list_posts(client, tenant, headers, **query)

            assert response.content == straightforward_list(engine, tenant, viewer, **query), query


def test_list_with_unordered_posts_is_what_the_straightforward_list_answered(
    client: TestClient, engine: Engine, tenant: Tenant, user: UserMaker
) -> None:
    """Published posts without a publication time (imports may have them) sort as before,
    wherever each database puts NULL."""
    me = user()
    for index in range(3):
        published_post(me, published_at=None, title=f"Undated {index}")
        published_post(me, published_at=utcnow() - timedelta(days=index))

    for offset in range(7):
        response = list_posts(client, tenant, limit=2, offset=offset)

        # Items, total and order as before; ``next`` is for dated lists (every writer dates
        # a published post; the migration dated the old ones), so it is not compared here.
        expected = json.loads(straightforward_list(engine, tenant, None, limit=2, offset=offset))
        assert {**response.json(), "next": None} == {**expected, "next": None}


def test_list_is_documented_as_a_page_of_summaries(app: FastAPI) -> None:
    """The list answers pre-shaped JSON, yet its OpenAPI document still names its model."""
    operation = app.openapi()["paths"]["/api/v1/tenants/{tenant}/posts"]["get"]

    assert operation["operationId"] == "posts-list"
    assert operation["responses"]["200"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/PostPage"}}
    }
    assert set(operation["responses"]["200"]["headers"]) == {"Link", "X-Total-Count"}


def test_summary_data_has_the_keys_of_the_summary_model() -> None:
    assert list(PostSummaryData.__annotations__) == list(PostSummary.model_fields)
    assert list(AuthorData.__annotations__) == list(UserPublic.model_fields)


# --- GET /posts/{id} and /posts/by-slug/{slug} ------------------------------------------------


def test_read_post_by_id_returns_the_full_post(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    post = published_post(me, body="The whole body.", tags=["x", "y"])

    response = read_post(client, tenant, post.id)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == POST_KEYS
    assert body["id"] == str(post.id)
    assert body["body"] == "The whole body."
    assert body["slug"] == post.slug
    assert body["tags"] == ["x", "y"]
    assert body["author"]["username"] == me.username
    assert "email" not in body["author"]


def test_read_post_by_slug_returns_the_same_post(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    post = published_post(user())

    response = read_by_slug(client, tenant, post.slug)

    assert response.status_code == 200
    assert response.json() == read_post(client, tenant, post.id).json()


@pytest.mark.parametrize("role", [Role.author, *EDITOR_ROLES])
def test_draft_is_visible_to_its_author_and_to_editors(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    writer = user()
    post = draft_post(writer)
    viewer = writer if role == Role.author else user(role=role)

    by_id = read_post(client, tenant, post.id, auth_headers(viewer))
    by_slug = read_by_slug(client, tenant, post.slug, auth_headers(viewer))

    assert by_id.status_code == 200
    assert by_id.json()["status"] == "draft"
    assert by_slug.status_code == 200
    assert by_slug.json()["id"] == str(post.id)


@pytest.mark.parametrize("viewer_role", [Role.author, Role.reader, None])
def test_draft_is_404_like_an_unknown_post_to_anyone_else(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    viewer_role: Role | None,
) -> None:
    post = draft_post(user())
    headers = None if viewer_role is None else auth_headers(user(role=viewer_role))

    by_id = read_post(client, tenant, post.id, headers)
    by_slug = read_by_slug(client, tenant, post.slug, headers)

    assert by_id.status_code == 404
    assert problem_body(by_id) == problem_body(read_post(client, tenant, uuid.uuid4(), headers))
    assert by_slug.status_code == 404
    assert problem_body(by_slug) == problem_body(
        read_by_slug(client, tenant, "no-such-post", headers)
    )


def test_another_tenants_post_is_404_like_an_unknown_post(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    theirs = published_post(user(tenant=other_tenant))
    headers = auth_headers(user(role=Role.owner))

    by_id = read_post(client, tenant, theirs.id, headers)
    by_slug = read_by_slug(client, tenant, theirs.slug, headers)

    assert by_id.status_code == 404
    assert problem_body(by_id) == problem_body(read_post(client, tenant, UNKNOWN_ID, headers))
    assert by_slug.status_code == 404
    assert problem_body(by_slug) == problem_body(
        read_by_slug(client, tenant, "no-such-post", headers)
    )
    assert read_post(client, other_tenant, theirs.id).status_code == 200


@pytest.mark.parametrize("post_id", ["not-a-uuid", "123", "00000000-0000-0000-0000"])
def test_read_post_with_a_malformed_id_is_422(
    client: TestClient, tenant: Tenant, post_id: str
) -> None:
    response = read_post(client, tenant, post_id)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


# --- PATCH /posts/{id} ------------------------------------------------------------------------


def test_author_updates_their_own_post(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = published_post(me)

    response = update_post(client, tenant, post.id, auth_headers(me), body="Rewritten.")

    assert response.status_code == 200
    assert response.json()["body"] == "Rewritten."
    assert read_post(client, tenant, post.id).json()["body"] == "Rewritten."


@pytest.mark.parametrize("role", EDITOR_ROLES)
@pytest.mark.parametrize("status", [PostStatus.published, PostStatus.draft])
def test_editors_update_anyones_post(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    role: Role,
    status: PostStatus,
) -> None:
    writer = user()
    post: Post = PostFactory.create(author=writer, status=status)

    response = update_post(client, tenant, post.id, auth_headers(user(role=role)), title="Edited")

    assert response.status_code == 200
    assert response.json()["title"] == "Edited"
    assert response.json()["author"]["id"] == str(writer.id)


def test_another_author_updating_a_published_post_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    post = published_post(user(), title="Original")

    response = update_post(client, tenant, post.id, auth_headers(user()), title="Hijacked")

    assert response.status_code == 403
    assert response.json()["code"] == "not_post_editor"
    assert read_post(client, tenant, post.id).json()["title"] == "Original"


def test_another_author_updating_a_draft_is_404(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    writer = user()
    post = draft_post(writer, title="Original")
    intruder = auth_headers(user())

    response = update_post(client, tenant, post.id, intruder, title="Hijacked")

    assert response.status_code == 404
    assert problem_body(response) == problem_body(
        update_post(client, tenant, UNKNOWN_ID, intruder, title="x")
    )
    assert read_post(client, tenant, post.id, auth_headers(writer)).json()["title"] == "Original"


def test_reader_updating_a_post_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    post = published_post(user(), title="Original")

    response = update_post(
        client, tenant, post.id, auth_headers(user(role=Role.reader)), title="Hijacked"
    )

    assert response.status_code == 403
    assert read_post(client, tenant, post.id).json()["title"] == "Original"


def test_update_post_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    post = published_post(user(), title="Original")

    response = update_post(client, tenant, post.id, None, title="Hijacked")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert read_post(client, tenant, post.id).json()["title"] == "Original"


def test_update_post_keeps_omitted_fields(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = published_post(me, tags=["a", "b"])
    before = read_post(client, tenant, post.id).json()

    response = update_post(client, tenant, post.id, auth_headers(me), description="New summary")

    assert response.status_code == 200
    after = response.json()
    assert after["description"] == "New summary"
    for field in ("id", "slug", "title", "body", "status", "tags", "published_at", "author"):
        assert after[field] == before[field], field


@pytest.mark.parametrize(
    ("changes", "tags"),
    [
        ({"title": "Only the title"}, ["zeta", "alpha"]),
        ({"tags": ["New", "zeta", " new "]}, ["new", "zeta"]),
        ({"tags": []}, []),
    ],
    ids=["omitted-keeps", "given-replaces", "empty-clears"],
)
def test_update_post_tags(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    changes: dict[str, object],
    tags: list[str],
) -> None:
    me = user()
    post = published_post(me, tags=["zeta", "alpha"])

    response = update_post(client, tenant, post.id, auth_headers(me), **changes)

    assert response.status_code == 200
    assert response.json()["tags"] == tags
    assert read_post(client, tenant, post.id).json()["tags"] == tags


@pytest.mark.parametrize("field", ["title", "body", "description", "tags", "status"])
def test_update_post_with_a_null_field_is_422(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, field: str
) -> None:
    me = user()
    post = published_post(me)
    before = read_post(client, tenant, post.id).json()

    response = update_post(client, tenant, post.id, auth_headers(me), **{field: None})

    assert response.status_code == 422
    assert read_post(client, tenant, post.id).json() == before


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "   "},
        {"title": "t" * 201},
        {"body": ""},
        {"status": "archived"},
        {"tags": ["t" * 51]},
        {"tags": [f"t{i}" for i in range(11)]},
    ],
)
def test_update_post_with_invalid_values_is_422(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    changes: dict[str, object],
) -> None:
    me = user()
    post = published_post(me)
    before = read_post(client, tenant, post.id).json()

    response = update_post(client, tenant, post.id, auth_headers(me), **changes)

    assert response.status_code == 422
    assert read_post(client, tenant, post.id).json() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("author_id", "00000000-0000-7000-8000-000000000001"),
        ("tenant_id", "00000000-0000-7000-8000-000000000002"),
        ("id", "00000000-0000-7000-8000-000000000003"),
        ("slug", "chosen-slug"),
        ("published_at", "2020-01-01T00:00:00Z"),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_update_post_with_an_unknown_field_is_422_and_changes_nothing(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    field: str,
    value: str,
) -> None:
    me = user()
    post = published_post(me)
    before = read_post(client, tenant, post.id).json()

    response = update_post(
        client, tenant, post.id, auth_headers(me), title="Changed", **{field: value}
    )

    assert response.status_code == 422
    assert read_post(client, tenant, post.id).json() == before


def test_publishing_a_draft_sets_published_at(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = draft_post(me)
    before = utcnow()

    response = update_post(client, tenant, post.id, auth_headers(me), status="published")

    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert before <= at(response.json()["published_at"]) <= utcnow()
    assert listed_ids(list_posts(client, tenant)) == ids(post)


def test_republishing_keeps_the_first_published_at(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(create_post(client, tenant, auth_headers(me)))
    first = update_post(client, tenant, post["id"], auth_headers(me), status="published").json()

    unpublished = update_post(client, tenant, post["id"], auth_headers(me), status="draft")
    republished = update_post(client, tenant, post["id"], auth_headers(me), status="published")

    assert unpublished.json()["status"] == "draft"
    assert unpublished.json()["published_at"] == first["published_at"]
    assert republished.json()["status"] == "published"
    assert republished.json()["published_at"] == first["published_at"]


def test_update_post_moves_updated_at_and_keeps_created_at(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = created(create_post(client, tenant, auth_headers(me)))

    response = update_post(client, tenant, post["id"], auth_headers(me), body="Changed.")

    assert response.status_code == 200
    assert response.json()["created_at"] == post["created_at"]
    assert at(response.json()["updated_at"]) > at(post["updated_at"])


# --- DELETE /posts/{id} -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.author, *EDITOR_ROLES])
def test_author_or_editor_deletes_a_post(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    writer = user()
    post = published_post(writer)
    actor = writer if role == Role.author else user(role=role)

    response = delete_post(client, tenant, post.id, auth_headers(actor))

    assert response.status_code == 204
    assert response.content == b""
    assert read_post(client, tenant, post.id, auth_headers(actor)).status_code == 404
    assert list_posts(client, tenant).json()["total"] == 0


def test_author_deletes_their_own_draft(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = draft_post(me)

    response = delete_post(client, tenant, post.id, auth_headers(me))

    assert response.status_code == 204
    assert read_post(client, tenant, post.id, auth_headers(me)).status_code == 404


def test_deleting_a_post_removes_its_comments_and_tag_links(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    me = user()
    post = published_post(me, tags=["python", "gone"])
    published_post(me, tags=["python"])
    comment_on(post, user())

    response = delete_post(client, tenant, post.id, auth_headers(me))

    assert response.status_code == 204
    assert list_comments(client, tenant, post.id).status_code == 404
    assert tag_counts(list_tags(client, tenant)) == [("python", 1)]
    assert list_posts(client, tenant, tag="gone").json()["total"] == 0


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_deleting_someone_elses_post_without_editor_role_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    post = published_post(user())

    response = delete_post(client, tenant, post.id, auth_headers(user(role=role)))

    assert response.status_code == 403
    assert read_post(client, tenant, post.id).status_code == 200


def test_delete_post_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    post = published_post(user())

    response = delete_post(client, tenant, post.id, None)

    assert response.status_code == 401
    assert read_post(client, tenant, post.id).status_code == 200


def test_deleting_another_tenants_post_is_404_and_keeps_it(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    theirs = published_post(user(tenant=other_tenant))
    owner = auth_headers(user(role=Role.owner))

    response = delete_post(client, tenant, theirs.id, owner)

    assert response.status_code == 404
    assert problem_body(response) == problem_body(delete_post(client, tenant, UNKNOWN_ID, owner))
    assert read_post(client, other_tenant, theirs.id).status_code == 200


# --- Comments ---------------------------------------------------------------------------------


def test_list_comments_oldest_first_anonymously(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    post = published_post(user())
    commenter = user(role=Role.reader)
    now = utcnow()
    newest = comment_on(post, commenter, created_at=now - timedelta(minutes=1))
    oldest = comment_on(post, commenter, created_at=now - timedelta(minutes=3))
    middle = comment_on(post, commenter, created_at=now - timedelta(minutes=2))
    comment_on(published_post(user()), commenter)

    response = list_comments(client, tenant, post.id)

    assert listed_ids(response) == ids(oldest, middle, newest)
    body = response.json()
    assert body["total"] == 3
    first = body["items"][0]
    assert set(first) == {"id", "post_id", "number", "body", "author", "created_at", "updated_at"}
    assert [item["number"] for item in body["items"]] == [2, 3, 1]  # numbered as written
    assert first["post_id"] == str(post.id)
    assert first["body"] == oldest.body
    assert first["author"]["id"] == str(commenter.id)
    assert "email" not in first["author"]


def test_list_comments_pages_with_limit_and_offset(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    post = published_post(user())
    now = utcnow()
    comments = [comment_on(post, user(), created_at=now + timedelta(seconds=i)) for i in range(5)]

    response = list_comments(client, tenant, post.id, limit=2, offset=2)

    assert listed_ids(response) == ids(*comments[2:4])
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 2)


@pytest.mark.parametrize("viewer_role", [Role.author, Role.reader, None])
def test_list_comments_of_a_draft_others_cannot_see_is_404(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    viewer_role: Role | None,
) -> None:
    post = draft_post(user())
    headers = None if viewer_role is None else auth_headers(user(role=viewer_role))

    response = list_comments(client, tenant, post.id, headers)

    assert response.status_code == 404
    assert problem_body(response) == problem_body(
        list_comments(client, tenant, UNKNOWN_ID, headers)
    )


@pytest.mark.parametrize("role", [Role.reader, *WRITER_ROLES])
def test_any_member_may_comment_on_a_published_post(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    post = published_post(user())
    me = user(role=role)

    response = add_comment(client, tenant, post.id, auth_headers(me), body="  Well said.  ")

    assert response.status_code == 201
    comment = response.json()
    assert comment["body"] == "Well said."
    assert comment["post_id"] == str(post.id)
    assert comment["author"]["id"] == str(me.id)
    assert "email" not in comment["author"]
    assert listed_ids(list_comments(client, tenant, post.id)) == [comment["id"]]


def test_add_comment_anonymous_is_401(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    post = published_post(user())

    response = add_comment(client, tenant, post.id, None)

    assert response.status_code == 401
    assert list_comments(client, tenant, post.id).json()["total"] == 0


@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_add_comment_with_a_blank_body_is_422(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, body: str
) -> None:
    post = published_post(user())

    response = add_comment(client, tenant, post.id, auth_headers(user()), body=body)

    assert response.status_code == 422
    assert list_comments(client, tenant, post.id).json()["total"] == 0


@pytest.mark.parametrize("role", [Role.author, Role.editor])
def test_commenting_on_a_draft_the_caller_can_see_is_409(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    writer = user()
    post = draft_post(writer)
    caller = writer if role == Role.author else user(role=role)

    response = add_comment(client, tenant, post.id, auth_headers(caller))

    assert response.status_code == 409
    assert response.json()["code"] == "post_not_published"
    assert list_comments(client, tenant, post.id, auth_headers(caller)).json()["total"] == 0


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_commenting_on_a_draft_the_caller_cannot_see_is_404(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    post = draft_post(user())
    headers = auth_headers(user(role=role))

    response = add_comment(client, tenant, post.id, headers)

    assert response.status_code == 404
    assert problem_body(response) == problem_body(add_comment(client, tenant, UNKNOWN_ID, headers))


@pytest.mark.parametrize("actor", ["comment_author", "post_author", *EDITOR_ROLES])
def test_comment_author_post_author_or_editor_deletes_a_comment(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, actor: str
) -> None:
    writer = user()
    commenter = user(role=Role.reader)
    post = published_post(writer)
    comment = comment_on(post, commenter)
    kept = comment_on(post, commenter)
    if actor == "comment_author":
        deleter = commenter
    elif actor == "post_author":
        deleter = writer
    else:
        deleter = user(role=Role(actor))

    response = delete_comment(client, tenant, post.id, comment.id, auth_headers(deleter))

    assert response.status_code == 204
    assert listed_ids(list_comments(client, tenant, post.id)) == ids(kept)


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_another_member_deleting_a_comment_is_403(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders, role: Role
) -> None:
    post = published_post(user())
    comment = comment_on(post, user())

    response = delete_comment(client, tenant, post.id, comment.id, auth_headers(user(role=role)))

    assert response.status_code == 403
    assert response.json()["code"] == "not_comment_moderator"
    assert listed_ids(list_comments(client, tenant, post.id)) == ids(comment)


def test_delete_comment_anonymous_is_401(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    post = published_post(user())
    comment = comment_on(post, user())

    response = delete_comment(client, tenant, post.id, comment.id, None)

    assert response.status_code == 401
    assert listed_ids(list_comments(client, tenant, post.id)) == ids(comment)


def test_deleting_a_comment_under_another_posts_path_is_404(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    writer = user()
    post, other_post = published_post(writer), published_post(writer)
    comment = comment_on(post, user())
    editor = auth_headers(user(role=Role.editor))

    response = delete_comment(client, tenant, other_post.id, comment.id, editor)

    assert response.status_code == 404
    assert response.json()["code"] == "comment_not_found"
    assert listed_ids(list_comments(client, tenant, post.id)) == ids(comment)


def test_deleting_another_tenants_comment_is_404(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    their_post = published_post(user(tenant=other_tenant))
    their_comment = comment_on(their_post, user(tenant=other_tenant))
    my_post = published_post(user())
    owner = auth_headers(user(role=Role.owner))

    by_their_ids = delete_comment(client, tenant, their_post.id, their_comment.id, owner)
    under_my_post = delete_comment(client, tenant, my_post.id, their_comment.id, owner)

    assert by_their_ids.status_code == 404
    assert under_my_post.status_code == 404
    assert listed_ids(list_comments(client, other_tenant, their_post.id)) == ids(their_comment)


def test_commenting_on_another_tenants_post_is_404(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    their_post = published_post(user(tenant=other_tenant))

    response = add_comment(client, tenant, their_post.id, auth_headers(user()))

    assert response.status_code == 404
    assert list_comments(client, tenant, their_post.id).status_code == 404
    assert list_comments(client, other_tenant, their_post.id).json()["total"] == 0


# --- GET /tags --------------------------------------------------------------------------------


def test_list_tags_counts_published_posts_most_used_first_then_by_name(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    published_post(me, tags=["python", "sql"])
    published_post(me, tags=["web", "python", "beta"])
    published_post(me, tags=["sql", "alpha", "python"])

    response = list_tags(client, tenant)

    assert tag_counts(response) == [
        ("python", 3),
        ("sql", 2),
        ("alpha", 1),
        ("beta", 1),
        ("web", 1),
    ]
    assert response.json()["total"] == 5


def test_list_tags_pages_with_limit_and_offset(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    published_post(me, tags=["a", "b", "c"])
    published_post(me, tags=["a", "b"])
    published_post(me, tags=["a", "d"])

    response = list_tags(client, tenant, limit=2, offset=1)

    assert tag_counts(response) == [("b", 2), ("c", 1)]
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 1)


def test_list_tags_ignores_drafts(client: TestClient, tenant: Tenant, user: UserMaker) -> None:
    me = user()
    published_post(me, tags=["python"])
    draft_post(me, tags=["python", "secret"])

    response = list_tags(client, tenant)

    assert tag_counts(response) == [("python", 1)]


def test_list_tags_never_shows_another_tenants_tags(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: UserMaker
) -> None:
    published_post(user(), tags=["python"])
    outsider = user(tenant=other_tenant)
    published_post(outsider, tags=["python", "theirs"])
    published_post(outsider, tags=["python"])

    response = list_tags(client, tenant)

    assert tag_counts(response) == [("python", 1)]
    assert response.json()["total"] == 1


# --- Cross-tenant tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/posts", {"title": "Intruder", "body": "Hi", "status": "published"}),
        ("PATCH", "/posts/{post}", {"title": "Hijacked"}),
        ("DELETE", "/posts/{post}", None),
        ("POST", "/posts/{post}/comments", {"body": "Hi"}),
        ("GET", "/posts?status=draft", None),
    ],
)
def test_other_tenants_editor_token_is_401_under_this_tenant(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    outsider = user(role=Role.editor, tenant=other_tenant)
    post = published_post(user(), title="Original")
    before = read_post(client, tenant, post.id).json()

    response = client.request(
        method,
        tenant_path(tenant, path.format(post=post.id)),
        json=body,
        headers=auth_headers(outsider),
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert read_post(client, tenant, post.id).json() == before
    assert list_posts(client, tenant).json()["total"] == 1
    assert list_comments(client, tenant, post.id).json()["total"] == 0


# --- cursors ----------------------------------------------------------------------------------


def test_a_cursor_walk_lists_every_post_once_in_order(
    client: TestClient, tenant: Tenant, varied_blog: list[User]
) -> None:
    """Ties in publication time included: the cursor carries the id too."""
    by_offset = [item["id"] for item in list_posts(client, tenant, limit=50).json()["items"]]
    walked: list[str] = []
    page = list_posts(client, tenant, limit=3).json()
    while True:
        walked += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        page = list_posts(client, tenant, limit=3, after=page["next"]).json()

    assert walked == by_offset
    assert len(by_offset) == 11


def test_a_cursor_stays_put_when_newer_posts_arrive(
    client: TestClient, tenant: Tenant, user: UserMaker
) -> None:
    me = user()
    for index in range(4):
        published_post(me, title=f"Old {index}", published_at=utcnow() - timedelta(days=index))
    first = list_posts(client, tenant, limit=2).json()

    published_post(me, title="Brand new")
    second = list_posts(client, tenant, limit=2, after=first["next"]).json()

    assert [item["title"] for item in second["items"]] == ["Old 2", "Old 3"]
    assert second["total"] == 5


@pytest.mark.parametrize("after", ["garbage", "Zm9vfGJhcg", "MjAyNi0wMS0wMVQwMDowMDowMHx4"])
def test_a_cursor_the_list_never_gave_out_is_a_422(
    client: TestClient, tenant: Tenant, after: str
) -> None:
    response = list_posts(client, tenant, after=after)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"
