"""Conduit API: a frontend's whole session, CORS for a frontend on another origin, and
the API's own OpenAPI document.

The RealWorld ("Conduit") API is served per blog under ``/conduit/{tenant}/api``. The
other ``test_conduit_*.py`` files hold its conformance tests by area: users, articles,
comments, social (profiles, follows, favorites, feed) and tenancy (every route, across
two blogs).
"""

import pytest
from fastapi.testclient import TestClient

from blog.tenants.models import Tenant
from tests.conduit import (
    Conduit,
    MakeUser,
    assert_error,
    assert_no_content,
    conduit_path,
    ok,
)

FRONTEND: str = "http://localhost:5173"  # the origin the `settings` fixture allows


def test_a_frontends_session(api: Conduit) -> None:
    """Everything a Conduit frontend does, through the Conduit API only."""
    ok(api.register("alice", "alice@example.com", "alice-password"), 201)
    bob = ok(api.register("bob", "bob@example.com", "bob-password"), 201)["user"]["token"]

    alice = ok(api.login("alice@example.com", "alice-password"))["user"]["token"]
    assert ok(api.get("/user", alice))["user"]["username"] == "alice"
    me = ok(api.put("/user", alice, {"user": {"bio": "Hi!", "image": "https://x.example/a.png"}}))
    assert (me["user"]["bio"], me["user"]["image"]) == ("Hi!", "https://x.example/a.png")

    article = ok(
        api.create_article(bob, title="Dragons", body="Believe", tagList=["dragons", "training"]),
        201,
    )["article"]
    slug = article["slug"]
    by_tag = ok(api.get("/articles", alice, tag="dragons"))
    assert [item["slug"] for item in by_tag["articles"]] == [slug]
    assert by_tag["articlesCount"] == 1
    assert sorted(ok(api.get("/tags"))["tags"]) == ["dragons", "training"]

    favorited = ok(api.post(f"/articles/{slug}/favorite", alice))["article"]
    assert (favorited["favorited"], favorited["favoritesCount"]) == (True, 1)
    assert ok(api.post("/profiles/bob/follow", alice))["profile"]["following"] is True
    feed = ok(api.get("/articles/feed", alice))
    assert [(i["slug"], i["favorited"]) for i in feed["articles"]] == [(slug, True)]
    assert feed["articles"][0]["author"]["following"] is True

    comment = ok(api.add_comment(slug, alice, "Great read."), 201)["comment"]
    listed = ok(api.get(f"/articles/{slug}/comments", bob))["comments"]
    assert [(c["id"], c["body"], c["author"]["username"]) for c in listed] == [
        (comment["id"], "Great read.", "alice")
    ]
    assert listed[0]["author"]["image"] == "https://x.example/a.png"
    assert_no_content(api.delete(f"/articles/{slug}/comments/{comment['id']}", alice))
    assert ok(api.get(f"/articles/{slug}/comments"))["comments"] == []

    assert_no_content(api.delete(f"/articles/{slug}", bob))
    assert_error(api.get(f"/articles/{slug}"), 404, "article", "not found")
    assert ok(api.get("/articles/feed", alice)) == {"articles": [], "articlesCount": 0}


def test_the_conduit_api_serves_its_openapi_document(api: Conduit) -> None:
    schema = ok(api.get("/openapi.json"))

    assert schema["openapi"].startswith("3.")
    assert any(path.endswith("/articles/{slug}/favorite") for path in schema["paths"])


# --- CORS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/articles"),
        ("POST", "/users/login"),
        ("PUT", "/user"),
        ("DELETE", "/articles/some-article"),
    ],
)
def test_a_preflight_from_the_frontends_origin_is_allowed(
    client: TestClient, tenant: Tenant, method: str, path: str
) -> None:
    response = client.options(
        conduit_path(tenant, path),
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code in {200, 204}, response.text
    assert response.headers["access-control-allow-origin"] == FRONTEND
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_answers_to_the_frontends_origin_say_it_may_read_them(api: Conduit, user: MakeUser) -> None:
    origin = {"Origin": FRONTEND}

    listed = api.request("GET", "/articles", headers=origin)
    refused = api.request("GET", "/user", headers=origin)
    mine = api.request("GET", "/user", user(), headers=origin)

    for response in (listed, refused, mine):
        assert response.headers.get("access-control-allow-origin") == FRONTEND
    assert (listed.status_code, refused.status_code, mine.status_code) == (200, 401, 200)


def test_another_origin_is_not_allowed(client: TestClient, tenant: Tenant) -> None:
    preflight = client.options(
        conduit_path(tenant, "/articles"),
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    actual = client.get(
        conduit_path(tenant, "/articles"), headers={"Origin": "https://evil.example"}
    )

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in actual.headers
