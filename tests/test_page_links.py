"""Every native list sends RFC 8288 ``Link`` headers and ``X-Total-Count``."""

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from blog.pagination import page_links
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.factories import (
    ApiKeyFactory,
    CommentFactory,
    FollowFactory,
    PostAutosaveFactory,
    PostFactory,
    PostRevisionFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from blog.users.models import Role, User
from tests.conftest import tenant_path

AuthHeaders = Callable[[User], dict[str, str]]
MakeUser = Callable[..., User]
LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


def links(response: httpx.Response) -> dict[str, str]:
    """The ``Link`` header's URLs by relation (each relation once)."""
    assert response.status_code == 200, response.text
    found = LINK.findall(response.headers["link"])
    by_rel = {rel: url for url, rel in found}
    assert len(by_rel) == len(found), response.headers["link"]
    return by_rel


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def walk(client: TestClient, url: str, headers: dict[str, str] | None = None) -> list[str]:
    """The ids of every item, following ``next`` from ``url`` to the last page."""
    seen: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url, headers=headers)
        seen += [item.get("id") or item.get("name") for item in response.json()["items"]]
        next_url = links(response).get("next")
        assert len(seen) <= 100, "the walk does not end"
    return seen


def test_offset_pages_link_first_prev_next_and_last(
    client: TestClient, tenant: Tenant, user: MakeUser, settings: Settings
) -> None:
    PostFactory.create(author=user(), tags=[f"t{n}" for n in range(5)])
    path = tenant_path(tenant, "/tags")
    base = f"{settings.public_url}{path}"

    first = client.get(path, params={"limit": 2})
    middle = client.get(path, params={"limit": 2, "offset": 2})
    last = client.get(path, params={"limit": 2, "offset": 4})

    assert links(first) == {
        "first": f"{base}?limit=2&offset=0",
        "next": f"{base}?limit=2&offset=2",
        "last": f"{base}?limit=2&offset=4",
    }
    assert links(middle) == {
        "first": f"{base}?limit=2&offset=0",
        "prev": f"{base}?limit=2&offset=0",
        "next": f"{base}?limit=2&offset=4",
        "last": f"{base}?limit=2&offset=4",
    }
    assert links(last) == {
        "first": f"{base}?limit=2&offset=0",
        "prev": f"{base}?limit=2&offset=2",
        "last": f"{base}?limit=2&offset=4",
    }
    for response in (first, middle, last):
        assert response.headers["x-total-count"] == str(response.json()["total"]) == "5"


def test_following_next_walks_a_filtered_list_once(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    admin = user(Role.admin, name="Admin")
    matching = {str(user(name=f"Ann {n}").id) for n in range(5)}
    user(name="Bob")
    headers = auth_headers(admin)

    walked = walk(client, tenant_path(tenant, "/users?q=ann&limit=2"), headers)

    assert sorted(walked) == sorted(matching)
    first = client.get(tenant_path(tenant, "/users?q=ann&limit=2"), headers=headers)
    for url in links(first).values():
        assert query(url)["q"] == ["ann"]
        assert query(url)["limit"] == ["2"]
    assert first.headers["x-total-count"] == "5"


def test_posts_are_walked_by_cursor_keeping_the_filters(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    author = user()
    tagged = {str(PostFactory.create(author=author, tags=["go"]).id) for _ in range(5)}
    PostFactory.create(author=author, tags=["rust"])
    path = tenant_path(tenant, "/posts")

    first = client.get(path, params={"tag": "go", "limit": 2})
    second = client.get(links(first)["next"])

    assert query(links(first)["next"])["after"] == [first.json()["next"]]
    assert query(links(first)["next"])["tag"] == ["go"]
    assert "offset" not in query(links(first)["next"])
    # Reached by cursor: no known offset, so no prev; first and last are offset links.
    assert set(links(second)) == {"first", "next", "last"}
    # ``offset`` is ignored beside ``after``: it makes no prev either.
    assert set(links(client.get(links(first)["next"] + "&offset=2"))) == {"first", "next", "last"}
    assert query(links(second)["last"])["offset"] == ["4"]
    assert second.headers["x-total-count"] == "5"
    assert sorted(walk(client, f"{path}?tag=go&limit=2")) == sorted(tagged)


def test_a_search_ranked_list_walks_by_offset(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    author = user()
    found = {str(PostFactory.create(author=author, title=f"Zebra {n}").id) for n in range(3)}

    first = client.get(tenant_path(tenant, "/posts"), params={"q": "zebra", "limit": 2})

    assert query(links(first)["next"])["offset"] == ["2"]
    assert query(links(first)["next"])["q"] == ["zebra"]
    assert sorted(walk(client, tenant_path(tenant, "/posts?q=zebra&limit=2"))) == sorted(found)


def test_links_are_under_the_public_url_whatever_the_host(
    client: TestClient, tenant: Tenant, settings: Settings
) -> None:
    response = client.get(tenant_path(tenant, "/tags"), headers={"Host": "evil.example"})

    for url in links(response).values():
        assert url.startswith(f"{settings.public_url}/api/v1/tenants/{tenant.slug}/tags?")


def test_cached_lists_keep_their_own_links(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    author = user()
    for _ in range(3):
        PostFactory.create(author=author)
    path = tenant_path(tenant, "/posts")

    answers = [client.get(path, params={"limit": 1}) for _ in range(3)]
    other = [client.get(path, params={"limit": 1, "offset": 1}) for _ in range(3)]

    assert [a.headers["x-cache"] for a in answers] == ["miss", "miss", "hit"]
    assert [a.headers["x-cache"] for a in other] == ["miss", "miss", "hit"]
    assert {a.headers["link"] for a in answers} == {answers[0].headers["link"]}
    assert {a.headers["link"] for a in other} == {other[0].headers["link"]}
    assert "prev" not in links(answers[2])
    assert query(links(other[2])["prev"])["offset"] == ["0"]
    assert all(a.headers["x-total-count"] == "3" for a in answers + other)


def test_every_native_list_sends_the_headers(
    app: FastAPI,
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    admin = user(Role.admin)
    post = PostFactory.create(author=admin, tags=["x"])
    CommentFactory.create(post=post, author=admin)
    FollowFactory.create(follower=admin, followed=user())
    ApiKeyFactory.create(creator=admin)
    endpoint = WebhookEndpointFactory.create(tenant=tenant)
    WebhookDeliveryFactory.create(endpoint=endpoint)
    PostRevisionFactory.create(post=post)
    PostAutosaveFactory.create(post=post)
    lists = {
        "/users": "/users",
        "/posts": "/posts",
        "/posts/{post_id}/comments": f"/posts/{post.id}/comments",
        "/posts/{post_id}/revisions": f"/posts/{post.id}/revisions",
        "/posts/{post_id}/autosaves": f"/posts/{post.id}/autosaves",
        "/tags": "/tags",
        "/feed": "/feed",
        "/keys": "/keys",
        "/media": "/media",
        "/webhooks": "/webhooks",
        "/webhooks/{endpoint_id}/deliveries": f"/webhooks/{endpoint.id}/deliveries",
    }
    document = app.openapi()
    answers = {
        path.removeprefix("/api/v1/tenants/{tenant}"): operations["get"]["responses"]["200"]
        for path, operations in document["paths"].items()
        if "get" in operations
    }

    def is_page(answer: dict[str, Any]) -> bool:
        ref = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else {}
        return {"items", "total", "limit", "offset"} <= set(schema.get("properties", {}))

    paged = {path for path, answer in answers.items() if is_page(answer)}
    assert paged == set(lists)  # a new list belongs here
    for path in paged:  # and documents its headers
        assert set(answers[path]["headers"]) == {"Link", "X-Total-Count"}, path

    for path in lists.values():
        response = client.get(tenant_path(tenant, path), headers=auth_headers(admin))

        assert set(links(response)) == {"first", "last"}, path
        assert response.headers["x-total-count"] == str(response.json()["total"]), path


def test_browsers_may_read_the_headers(client: TestClient, tenant: Tenant) -> None:
    origin = {"Origin": "http://localhost:5173"}

    simple = client.get(tenant_path(tenant, "/tags"), headers=origin)

    exposed = {
        name.strip().lower() for name in simple.headers["access-control-expose-headers"].split(",")
    }
    assert {"link", "x-total-count"} <= exposed
    assert simple.headers["access-control-allow-origin"] == origin["Origin"]


@pytest.mark.parametrize(
    ("total", "offset", "expected"),
    [
        (0, 0, {"first": 0, "last": 0}),
        (10, 0, {"first": 0, "last": 0}),
        (11, 0, {"first": 0, "next": 10, "last": 10}),
        (30, 5, {"first": 0, "prev": 0, "next": 15, "last": 25}),  # off the grid: its own
        (30, 50, {"first": 0, "prev": 20, "last": 20}),  # past the end: back to the last
    ],
)
def test_page_links_in_every_position(total: int, offset: int, expected: dict[str, int]) -> None:
    header = page_links("https://x/l", "limit=10", total=total, limit=10, offset=offset)

    found = {rel: int(query(url)["offset"][0]) for url, rel in LINK.findall(header)}
    assert found == expected


def test_a_query_a_header_cannot_hold_is_escaped_in_the_links() -> None:
    header = page_links("https://x/l", 'q=a>b"c%20d&tag=caf\xe9', total=1, limit=10, offset=0)

    assert LINK.findall(header) == [
        ("https://x/l?q=a%3Eb%22c%20d&tag=caf%E9&offset=0", "first"),
        ("https://x/l?q=a%3Eb%22c%20d&tag=caf%E9&offset=0", "last"),
    ]
