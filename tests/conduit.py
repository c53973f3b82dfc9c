"""Helpers for the RealWorld ("Conduit") conformance tests (``tests/test_conduit*.py``).

:class:`Conduit` calls one blog's Conduit API the way a frontend does: JSON bodies in
the spec's envelopes, ``Authorization: Token <jwt>``. The shapes the spec promises are
written down once here (``*_KEYS``) so every test checks them the same way.
"""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx2 as httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from blog.models import metadata
from blog.posts.models import Post, PostStatus
from blog.tenants.models import Tenant
from blog.testing.factories import PostFactory
from blog.users.models import Role, User

AuthHeaders = Callable[[User], dict[str, str]]
MakeUser = Callable[..., User]
Caller = User | str | None
Snapshot = dict[str, list[str]]

USER_KEYS: Final = {"email", "token", "username", "bio", "image"}
PROFILE_KEYS: Final = {"username", "bio", "image", "following"}
ARTICLE_KEYS: Final = {
    "slug",
    "title",
    "description",
    "body",
    "tagList",
    "createdAt",
    "updatedAt",
    "favorited",
    "favoritesCount",
    "author",
}
LIST_ITEM_KEYS: Final = ARTICLE_KEYS - {"body"}
COMMENT_KEYS: Final = {"id", "createdAt", "updatedAt", "body", "author"}
# ISO 8601 in UTC with milliseconds and a Z, as in the spec's examples.
TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# A moment in the past with whole milliseconds: articles are dated relative to it.
BASE_TIME: Final = datetime(2025, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)
# Rate-limit counters record refused attempts too, by design: not evidence of a change.
TABLES_NOT_SNAPSHOTTED: Final = frozenset({"rate_limit_hits"})


# Roles that may change and delete anyone's articles.
EDITOR_ROLES = [Role.editor, Role.admin, Role.owner]


def conduit_path(tenant: Tenant | str, path: str = "") -> str:
    """The URL of ``path`` (a spec path, like ``/articles``) under a blog's Conduit API."""
    slug = tenant if isinstance(tenant, str) else tenant.slug
    return f"/conduit/{slug}/api{path}"


def token_of(headers: Mapping[str, str]) -> str:
    """The bare JWT of an ``Authorization: Bearer <jwt>`` header (``auth_headers(user)``)."""
    scheme, _, token = headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


class Conduit:
    """One blog's Conduit API, called as a frontend calls it.

    ``caller`` of each request: a :class:`User` (a fresh token of theirs, in the spec's
    ``Token`` scheme), a bare token string (also sent as ``Token <it>``), or ``None`` (no
    ``Authorization`` header). ``headers=`` are sent as given, after that.
    """

    def __init__(self, client: TestClient, tenant: Tenant | str, auth_headers: AuthHeaders):
        self.client = client
        self.tenant = tenant
        self._auth_headers = auth_headers

    def url(self, path: str) -> str:
        return conduit_path(self.tenant, path)

    def token(self, user: User) -> str:
        return token_of(self._auth_headers(user))

    def headers(self, caller: Caller) -> dict[str, str]:
        if caller is None:
            return {}
        token = caller if isinstance(caller, str) else self.token(caller)
        return {"Authorization": f"Token {token}"}

    def request(
        self,
        method: str,
        path: str,
        caller: Caller = None,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = {**self.headers(caller), **(headers or {})}
        if json is None:
            return self.client.request(method, self.url(path), params=params, headers=sent)
        return self.client.request(method, self.url(path), json=json, params=params, headers=sent)

    def get(self, path: str, caller: Caller = None, /, **params: str | int) -> httpx.Response:
        return self.request("GET", path, caller, params=params)

    def post(self, path: str, caller: Caller = None, json: object = None) -> httpx.Response:
        return self.request("POST", path, caller, json=json)

    def put(self, path: str, caller: Caller = None, json: object = None) -> httpx.Response:
        return self.request("PUT", path, caller, json=json)

    def delete(self, path: str, caller: Caller = None) -> httpx.Response:
        return self.request("DELETE", path, caller)

    # --- the spec's operations, for arranging and acting in tests ----------------------------

    def register(self, username: str, email: str, password: str) -> httpx.Response:
        user = {"username": username, "email": email, "password": password}
        return self.post("/users", None, {"user": user})

    def login(self, email: str, password: str) -> httpx.Response:
        return self.post("/users/login", None, {"user": {"email": email, "password": password}})

    def create_article(self, caller: Caller, **fields: object) -> httpx.Response:
        article: dict[str, object] = {
            "title": "How to train your dragon",
            "description": "Ever wonder how?",
            "body": "You have to believe",
            **fields,
        }
        return self.post("/articles", caller, {"article": article})

    def article(self, caller: Caller, **fields: object) -> Any:
        """Create an article through the API; its ``article`` object."""
        return ok(self.create_article(caller, **fields), 201)["article"]

    def update_article(self, slug: str, caller: Caller, **changes: object) -> httpx.Response:
        return self.put(f"/articles/{slug}", caller, {"article": changes})

    def add_comment(self, slug: str, caller: Caller, body: str = "Nice!") -> httpx.Response:
        return self.post(f"/articles/{slug}/comments", caller, {"comment": {"body": body}})

    def comment(self, slug: str, caller: Caller, body: str = "Nice!") -> Any:
        """Comment through the API; the ``comment`` object."""
        return ok(self.add_comment(slug, caller, body), 201)["comment"]

    def comment_ids(self, slug: str) -> list[int]:
        return [c["id"] for c in ok(self.get(f"/articles/{slug}/comments"))["comments"]]

    def list_slugs(self, caller: Caller = None, /, **params: str | int) -> list[str]:
        return [item["slug"] for item in ok(self.get("/articles", caller, **params))["articles"]]


# --- reading answers ------------------------------------------------------------------------


def is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, response.text
    assert is_json(response), response.headers.get("content-type")
    return response.json()


def assert_no_content(response: httpx.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""


def error_of(response: httpx.Response, status: int) -> dict[str, list[str]]:
    """The ``errors`` object of an error answer, checked to be the spec's shape."""
    assert response.status_code == status, response.text
    assert is_json(response), response.headers.get("content-type")
    body = response.json()
    assert set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, dict), body
    assert errors, body
    for key, messages in errors.items():
        assert isinstance(key, str)
        assert isinstance(messages, list), body
        assert messages, body
        assert all(isinstance(message, str) and message for message in messages), body
    return errors


def assert_error(response: httpx.Response, status: int, key: str, message: str) -> None:
    """``status`` with exactly ``{"errors": {key: [message]}}``."""
    assert error_of(response, status) == {key: [message]}


def assert_error_on(response: httpx.Response, status: int, key: str) -> None:
    """``status`` with an error for ``key`` (whatever its message)."""
    errors = error_of(response, status)
    assert key in errors, errors


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_error(response, 401, "token", "is missing")


def assert_bad_token(response: httpx.Response) -> None:
    assert_error(response, 401, "token", "is invalid")


def timestamp(value: str) -> datetime:
    """A Conduit timestamp, checked to be ISO 8601 UTC with milliseconds and a Z."""
    assert TIMESTAMP.fullmatch(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def conduit_time(moment: datetime) -> str:
    """How the API must render ``moment`` (a UTC datetime with whole milliseconds)."""
    assert moment.microsecond % 1000 == 0
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def snapshot(db: Session) -> Snapshot:
    """Every row of every table, to prove that a refused request changed nothing."""
    db.commit()
    state = {
        table.name: sorted(repr(tuple(row)) for row in db.execute(sa.select(table)))
        for table in metadata.sorted_tables
        if table.name not in TABLES_NOT_SNAPSHOTTED
    }
    db.commit()
    return state


# --- arranging data -------------------------------------------------------------------------


def published(author: User, *, days_ago: int = 0, **fields: Any) -> Post:
    """A published article by ``author``, written, changed and published ``days_ago``
    days before :data:`BASE_TIME` (so lists have a known order)."""
    moment = BASE_TIME - timedelta(days=days_ago)
    made: Post = PostFactory.create(
        author=author, created_at=moment, updated_at=moment, published_at=moment, **fields
    )
    return made


def draft(author: User, **fields: Any) -> Post:
    made: Post = PostFactory.create(author=author, status=PostStatus.draft, **fields)
    return made
