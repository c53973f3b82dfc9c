"""Conduit API: every route, walked from one table, across two blogs.

``ROUTES`` lists every operation of the RealWorld spec with how it reads a token and a
valid body. ``test_the_conduit_schema_documents_exactly_these_routes`` fails when the
Conduit API gains a route this table does not know: add it here, and every test below
covers it.

The ``world`` is two blogs (the ``tenant`` and ``other_tenant`` fixtures), each with an
author whose article carries a tag and a comment, a commenter, and an editor (who may
do anything in their own blog, so a refusal below is about the blog, not the role).
Each test runs one route:

* baseline: the blog's editor gets the route's success status, so refusals mean something;
* a token of the other blog is a 401 ``token is invalid``, also where a token is optional;
* without a token, a route that needs one is a 401 ``token is missing`` before any lookup;
* the other blog's slug or username is a 404 exactly like an unknown one;
* an unknown blog is a 404 ``tenant not found``.

Every refused request is checked to have changed no row of the database.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conduit import (
    AuthHeaders,
    Caller,
    Conduit,
    assert_bad_token,
    assert_error,
    assert_unauthenticated,
    conduit_path,
    ok,
    published,
    snapshot,
)
from tests.factories import DEFAULT_PASSWORD, FavoriteFactory, FollowFactory, UserFactory

TokenUse = Literal["ignored", "optional", "required"]
PATH_PARAMETER: Final = re.compile(r"{(\w+)}")
API_PREFIX: Final = re.compile(r"^.*?/api(?=/)")  # "/conduit/{tenant}/api" or "/api", if any
# What a 404 names for an unknown (or foreign) value of each path parameter.
NOT_FOUND_KEY: Final = {"slug": "article", "username": "profile"}


@dataclass(frozen=True)
class Objects:
    """A value for every path parameter of the spec: one blog's real (or unknown) ones."""

    slug: str
    username: str
    id: int

    def fill(self, template: str) -> str:
        return PATH_PARAMETER.sub(lambda match: str(getattr(self, match.group(1))), template)

    def unknown(self, param: str) -> "Objects":
        values: dict[str, Any] = {"slug": "no-such-article", "username": "nobody", "id": 99}
        return replace(self, **{param: values[param]})


@dataclass(frozen=True)
class Site:
    """One blog of the world."""

    api: Conduit
    author: User
    editor: User
    objects: Objects


@dataclass(frozen=True)
class Route:
    """One operation of the spec. ``body``: a valid JSON body, made for a blog."""

    method: str
    path: str
    token: TokenUse
    success: int = 200
    body: Callable[[Site], object] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return PATH_PARAMETER.findall(self.path)

    def call(
        self, site: Site, caller: Caller, objects: Objects | None = None, api: Conduit | None = None
    ) -> httpx.Response:
        """Call this route as ``caller`` on ``api`` (the site's unless given), the path
        filled with ``objects`` (the site's unless given) and a body valid for ``site``."""
        body = self.body(site) if self.body else None
        path = (objects or site.objects).fill(self.path)
        return (api or site.api).request(self.method, path, caller, json=body)


def _new_user(_: Site) -> object:
    return {"user": {"username": "newcomer", "email": "new@example.com", "password": "long-enough"}}


def _login(site: Site) -> object:
    return {"user": {"email": site.author.email, "password": DEFAULT_PASSWORD}}


ARTICLE: Final = {"title": "A new one", "description": "About it", "body": "The text"}
COMMENT: Final = {"comment": {"body": "Hi"}}

ROUTES: Final = [
    Route("POST", "/users/login", "ignored", body=_login),
    Route("POST", "/users", "ignored", 201, body=_new_user),
    Route("GET", "/user", "required"),
    Route("PUT", "/user", "required", body=lambda _: {"user": {"bio": "Changed"}}),
    Route("GET", "/profiles/{username}", "optional"),
    Route("POST", "/profiles/{username}/follow", "required"),
    Route("DELETE", "/profiles/{username}/follow", "required"),
    Route("GET", "/articles", "optional"),
    Route("POST", "/articles", "required", 201, body=lambda _: {"article": ARTICLE}),
    Route("GET", "/articles/feed", "required"),
    Route("GET", "/articles/{slug}", "optional"),
    Route("PUT", "/articles/{slug}", "required", body=lambda _: {"article": {"body": "Edited"}}),
    Route("DELETE", "/articles/{slug}", "required", 204),
    Route("GET", "/articles/{slug}/comments", "optional"),
    Route(
        "POST",
        "/articles/{slug}/comments",
        "required",
        201,
        body=lambda _: {"comment": {"body": "Hi"}},
    ),
    Route("DELETE", "/articles/{slug}/comments/{id}", "required", 204),
    Route("POST", "/articles/{slug}/favorite", "required"),
    Route("DELETE", "/articles/{slug}/favorite", "required"),
    Route("GET", "/tags", "ignored"),
]

READS_TOKEN: Final = [route for route in ROUTES if route.token != "ignored"]
NEEDS_TOKEN: Final = [route for route in ROUTES if route.token == "required"]
ANONYMOUS_OK: Final = [route for route in ROUTES if route.token != "required"]
ON_OBJECTS: Final = [
    pytest.param(route, param, id=f"{route}-{param}")
    for route in ROUTES
    for param in route.params
    if param in NOT_FOUND_KEY
]


def build_site(client: TestClient, tenant: Tenant, auth_headers: AuthHeaders) -> Site:
    api = Conduit(client, tenant, auth_headers)
    author: User = UserFactory.create(tenant=tenant, username=f"author-{tenant.slug}")
    editor: User = UserFactory.create(tenant=tenant, role=Role.editor)
    commenter: User = UserFactory.create(tenant=tenant)
    article = api.article(author, title=f"Article of {tenant.slug}", tagList=[tenant.slug])
    comment = api.comment(article["slug"], commenter, f"Comment in {tenant.slug}")
    objects = Objects(slug=article["slug"], username=author.username, id=comment["id"])
    return Site(api=api, author=author, editor=editor, objects=objects)


@dataclass(frozen=True)
class World:
    here: Site  # blog A, the `tenant` fixture: the blog whose URLs are called
    there: Site  # blog B, the `other_tenant` fixture


@pytest.fixture
def world(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, auth_headers: AuthHeaders
) -> World:
    return World(
        here=build_site(client, tenant, auth_headers),
        there=build_site(client, other_tenant, auth_headers),
    )


def _caller(route: Route, site: Site) -> Caller:
    return None if route.token == "ignored" else site.editor


# --- the table is the API ---------------------------------------------------------------------


def _normalized(path: str) -> str:
    """A documented path as a spec path: no prefix before ``/api``, parameters unnamed."""
    return PATH_PARAMETER.sub("{}", API_PREFIX.sub("", path))


def test_the_conduit_schema_documents_exactly_these_routes(
    client: TestClient, tenant: Tenant
) -> None:
    schema = ok(client.get(conduit_path(tenant, "/openapi.json")))

    documented = {
        f"{method.upper()} {_normalized(path)}"
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }

    assert schema["openapi"].startswith("3.")
    assert documented == {f"{route.method} {_normalized(route.path)}" for route in ROUTES}


# --- baseline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_works_for_the_blogs_editor(world: World, route: Route) -> None:
    response = route.call(world.here, _caller(route, world.here))

    assert response.status_code == route.success, response.text


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", READS_TOKEN, ids=str)
def test_a_token_of_another_blog_is_401_on_every_route_that_reads_one(
    world: World, db: Session, route: Route
) -> None:
    before = snapshot(db)

    response = route.call(world.here, world.here.api.token(world.there.editor))

    assert_bad_token(response)
    assert snapshot(db) == before


@pytest.mark.parametrize("route", NEEDS_TOKEN, ids=str)
def test_a_route_needing_a_login_is_401_without_one_before_any_lookup(
    world: World, db: Session, route: Route
) -> None:
    before = snapshot(db)
    unknown = world.here.objects.unknown("slug").unknown("username").unknown("id")

    assert_unauthenticated(route.call(world.here, None))
    assert_unauthenticated(route.call(world.here, None, unknown))
    assert_unauthenticated(route.call(world.here, None, world.there.objects))
    assert snapshot(db) == before


# --- objects of another blog ------------------------------------------------------------------


@pytest.mark.parametrize(("route", "param"), ON_OBJECTS)
def test_another_blogs_object_is_404_like_an_unknown_one(
    world: World, db: Session, route: Route, param: str
) -> None:
    here, there = world.here, world.there
    foreign = replace(here.objects, **{param: getattr(there.objects, param)})
    before = snapshot(db)

    response = route.call(here, here.editor, foreign)
    unknown = route.call(here, here.editor, here.objects.unknown(param))

    assert_error(response, 404, NOT_FOUND_KEY[param], "not found")
    assert response.json() == unknown.json()
    assert snapshot(db) == before


@pytest.mark.parametrize("route", ANONYMOUS_OK, ids=str)
def test_an_unknown_blog_is_404(world: World, route: Route) -> None:
    elsewhere = Conduit(world.here.api.client, "no-such-blog", lambda _: {})

    response = route.call(world.here, None, api=elsewhere)

    assert_error(response, 404, "tenant", "not found")


# --- what lists show --------------------------------------------------------------------------


def test_lists_feeds_tags_and_profiles_show_only_this_blog(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, auth_headers: AuthHeaders
) -> None:
    here = Conduit(client, tenant, auth_headers)
    there = Conduit(client, other_tenant, auth_headers)
    # The same names in both blogs: only the blog of the URL may answer for them.
    jake: User = UserFactory.create(tenant=tenant, username="jake", bio="here")
    fan: User = UserFactory.create(tenant=tenant, username="fan")
    other_jake: User = UserFactory.create(tenant=other_tenant, username="jake", bio="there")
    other_fan: User = UserFactory.create(tenant=other_tenant, username="fan")
    mine = published(jake, tags=["dragons"], days_ago=1)
    theirs = published(other_jake, tags=["dragons", "elsewhere"])
    FavoriteFactory.create(post=mine, user=fan)
    FavoriteFactory.create(post=theirs, user=other_fan)
    FollowFactory.create(follower=fan, followed=jake)
    FollowFactory.create(follower=other_fan, followed=other_jake)

    lists: dict[str, dict[str, Any]] = {
        "all": ok(here.get("/articles", fan)),
        "by author": ok(here.get("/articles", fan, author="jake")),
        "by tag": ok(here.get("/articles", fan, tag="dragons")),
        "favorited": ok(here.get("/articles", fan, favorited="fan")),
        "feed": ok(here.get("/articles/feed", fan)),
    }

    for name, body in lists.items():
        assert [item["slug"] for item in body["articles"]] == [mine.slug], name
        assert body["articlesCount"] == 1, name
        assert body["articles"][0]["favoritesCount"] == 1, name
    assert ok(here.get("/articles", None, tag="elsewhere"))["articlesCount"] == 0
    assert ok(here.get("/tags"))["tags"] == ["dragons"]
    assert ok(here.get("/profiles/jake", fan))["profile"] == {
        "username": "jake",
        "bio": "here",
        "image": None,
        "following": True,
    }
    assert ok(there.get("/profiles/jake"))["profile"]["bio"] == "there"
    assert_error(here.get(f"/articles/{theirs.slug}"), 404, "article", "not found")


def test_comments_list_only_this_blogs_article(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, auth_headers: AuthHeaders
) -> None:
    here = Conduit(client, tenant, auth_headers)
    there = Conduit(client, other_tenant, auth_headers)
    member: User = UserFactory.create(tenant=tenant)
    other_member: User = UserFactory.create(tenant=other_tenant)
    # One slug in both blogs: each blog's URL must reach its own article only.
    mine = published(member, slug="same-slug")
    published(other_member, slug="same-slug")
    here.comment(mine.slug, member, "here")
    there.comment("same-slug", other_member, "there")

    comments = ok(here.get("/articles/same-slug/comments"))["comments"]

    assert [(c["id"], c["body"]) for c in comments] == [(1, "here")]
    assert ok(there.get("/articles/same-slug/comments"))["comments"][0]["body"] == "there"
    assert_bad_token(here.delete("/articles/same-slug/comments/1", other_member))
    assert here.comment_ids("same-slug") == [1]
