"""Conduit API: registration, login, the current user, and access tokens.

Written from the RealWorld spec (``POST /users``, ``POST /users/login``, ``GET`` and
``PUT /user``) and the adapter's contract: the ``{"user": ...}`` envelope, tokens in
``Authorization: Token <jwt>`` (``Bearer`` accepted too), and errors as
``{"errors": {field: [message]}}``.
"""

import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.app import create_app
from blog.auth import service as auth_service
from blog.auth.dependencies import Callers
from blog.conduit import dependencies as conduit_dependencies
from blog.conduit import routes as conduit_routes
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conduit import (
    USER_KEYS,
    AuthHeaders,
    Conduit,
    MakeUser,
    assert_bad_token,
    assert_error,
    assert_error_on,
    assert_unauthenticated,
    conduit_path,
    error_of,
    ok,
    token_of,
)
from tests.conftest import tenant_path
from tests.factories import DEFAULT_PASSWORD, TenantFactory
from tests.test_auth import claims_for, deactivate, flip_signature_character, sign

JAKE = {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}
TOO_LONG_PASSWORD = "é" * 37  # 37 characters, 74 bytes in UTF-8


def register_jake(api: Conduit, **overrides: object) -> Any:
    return ok(api.post("/users", None, {"user": {**JAKE, **overrides}}), 201)["user"]


# --- POST /users ------------------------------------------------------------------------------


def test_register_answers_201_with_the_user_and_a_working_token(api: Conduit) -> None:
    response = api.register("jake", "jake@jake.jake", "jakejake")

    me = ok(response, 201)["user"]
    assert set(me) == USER_KEYS
    assert (me["username"], me["email"], me["bio"], me["image"]) == (
        "jake",
        "jake@jake.jake",
        None,
        None,
    )
    assert ok(api.get("/user", me["token"]))["user"]["username"] == "jake"


def test_register_never_answers_the_password(api: Conduit) -> None:
    response = api.register("jake", "jake@jake.jake", "jakejake")

    assert response.status_code == 201
    assert "jakejake" not in response.text
    assert "$2b$" not in response.text


@pytest.mark.parametrize("field", ["username", "email", "password"])
@pytest.mark.parametrize("value", [None, ""], ids=["missing", "blank"])
def test_register_needs_every_field(api: Conduit, field: str, value: str | None) -> None:
    user = {key: given for key, given in JAKE.items() if key != field}
    if value is not None:
        user[field] = value

    response = api.post("/users", None, {"user": user})

    assert_error(response, 422, field, "can't be blank")


def test_register_without_the_user_envelope_is_422(api: Conduit) -> None:
    assert_error(api.post("/users", None, JAKE), 422, "user", "can't be blank")


def test_register_taken_username_is_409_ignoring_case(api: Conduit, user: MakeUser) -> None:
    user(username="jake")

    response = api.register("JAKE", "someone-else@jake.jake", "jakejake")

    assert_error(response, 409, "username", "has already been taken")


def test_register_taken_email_is_409(api: Conduit, user: MakeUser) -> None:
    user(username="jacob", email="jake@jake.jake")

    response = api.register("jake", "jake@jake.jake", "jakejake")

    assert_error(response, 409, "email", "has already been taken")


def test_register_same_username_and_email_as_in_another_blog_is_fine(
    api: Conduit, user: MakeUser, other_tenant: Tenant
) -> None:
    user(username="jake", email="jake@jake.jake", tenant=other_tenant)

    assert api.register("jake", "jake@jake.jake", "jakejake").status_code == 201


def test_register_in_a_blog_with_registration_closed_is_403(
    client: TestClient, auth_headers: AuthHeaders, db: Session
) -> None:
    closed: Tenant = TenantFactory.create(registration_open=False)

    response = Conduit(client, closed, auth_headers).register("jake", "jake@jake.jake", "jakejake")

    error_of(response, 403)


def test_register_password_over_72_bytes_is_422(api: Conduit) -> None:
    response = api.register("jake", "jake@jake.jake", TOO_LONG_PASSWORD)

    assert_error_on(response, 422, "password")


def test_register_invalid_email_is_422(api: Conduit) -> None:
    assert_error_on(api.register("jake", "not-an-email", "jakejake"), 422, "email")


def test_register_in_an_unknown_blog_is_404(client: TestClient) -> None:
    response = client.post(conduit_path("no-such-blog", "/users"), json={"user": JAKE})

    assert_error(response, 404, "tenant", "not found")


# --- POST /users/login ------------------------------------------------------------------------


def test_login_answers_the_user_with_a_working_token(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake", email="jake@jake.jake", bio="I work at statefarm")

    response = api.login("Jake@Jake.JAKE", DEFAULT_PASSWORD)

    body = ok(response)["user"]
    assert set(body) == USER_KEYS
    assert (body["username"], body["email"], body["bio"]) == (
        me.username,
        me.email,
        "I work at statefarm",
    )
    assert ok(api.get("/user", body["token"]))["user"]["email"] == "jake@jake.jake"


def test_login_after_registering(api: Conduit) -> None:
    register_jake(api)

    assert api.login("jake@jake.jake", "jakejake").status_code == 200


def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(
    api: Conduit, user: MakeUser
) -> None:
    user(email="jake@jake.jake")

    wrong_password = api.login("jake@jake.jake", "not-the-password")
    unknown = api.login("nobody@jake.jake", DEFAULT_PASSWORD)

    assert_error(wrong_password, 401, "credentials", "invalid")
    assert wrong_password.json() == unknown.json()


def test_login_of_a_deactivated_account_is_the_same_401(api: Conduit, user: MakeUser) -> None:
    user(email="jake@jake.jake", is_active=False)

    response = api.login("jake@jake.jake", DEFAULT_PASSWORD)

    assert response.status_code == 401
    assert response.json() == {"errors": {"credentials": ["invalid"]}}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_login_with_an_account_of_another_blog_is_401(
    api: Conduit, user: MakeUser, other_tenant: Tenant
) -> None:
    user(email="jake@jake.jake", tenant=other_tenant)

    response = api.login("jake@jake.jake", DEFAULT_PASSWORD)

    assert_error(response, 401, "credentials", "invalid")


@pytest.mark.parametrize("field", ["email", "password"])
@pytest.mark.parametrize("value", [None, ""], ids=["missing", "blank"])
def test_login_needs_email_and_password(api: Conduit, field: str, value: str | None) -> None:
    credentials = {"email": "jake@jake.jake", "password": "jakejake"}
    del credentials[field]
    if value is not None:
        credentials[field] = value

    response = api.post("/users/login", None, {"user": credentials})

    assert_error(response, 422, field, "can't be blank")


def test_login_without_the_user_envelope_is_422(api: Conduit) -> None:
    response = api.post("/users/login", None, {"email": "a@b.c", "password": "jakejake"})

    assert_error(response, 422, "user", "can't be blank")


def test_login_password_over_72_bytes_is_422(api: Conduit, user: MakeUser) -> None:
    user(email="jake@jake.jake")

    assert_error_on(api.login("jake@jake.jake", TOO_LONG_PASSWORD), 422, "password")


# --- the login's rate limits (the native login's, as a dependency of the route) ---------------


@pytest.fixture
def strict_api(
    settings: Settings, engine: Engine, tenant: Tenant, auth_headers: AuthHeaders
) -> Iterator[Conduit]:
    """The RealWorld API of ``tenant`` with low login limits: 3 a minute per account, and 6
    logins and refreshes a minute per client address."""
    strict = settings.model_copy(
        update={"login_attempts_per_minute": 3, "auth_requests_per_minute_per_address": 6}
    )
    with TestClient(create_app(strict, engine=engine)) as client:
        yield Conduit(client, tenant, auth_headers)


def assert_rate_limited(response: httpx.Response) -> None:
    errors = error_of(response, 429)
    assert list(errors) == ["rate_limited"], errors
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_the_login_route_declares_the_login_limit() -> None:
    (login,) = [
        route
        for route in conduit_routes.router.routes
        if isinstance(route, APIRoute) and route.name == "login"
    ]

    assert conduit_dependencies.LoginLimit in login.dependencies


def test_login_attempts_are_limited_per_account(strict_api: Conduit, user: MakeUser) -> None:
    user(email="jake@jake.jake")
    user(email="bystander@jake.jake")

    refused = [strict_api.login("jake@jake.jake", "wrong").status_code for _ in range(3)]
    blocked = strict_api.login("Jake@Jake.Jake", DEFAULT_PASSWORD)

    assert refused == [401, 401, 401]
    assert_rate_limited(blocked)
    assert strict_api.login("bystander@jake.jake", DEFAULT_PASSWORD).status_code == 200


def test_login_attempts_at_unknown_accounts_are_limited_too(strict_api: Conduit) -> None:
    for _ in range(3):
        assert strict_api.login("ghost@jake.jake", "whatever").status_code == 401

    assert_rate_limited(strict_api.login("ghost@jake.jake", "whatever"))


def test_login_attempts_are_limited_per_address(strict_api: Conduit, user: MakeUser) -> None:
    emails = [user().email for _ in range(4)]

    statuses = [strict_api.login(email, "wrong").status_code for email in emails for _ in range(2)]

    assert statuses[:6] == [401] * 6
    assert_rate_limited(strict_api.login(emails[0], DEFAULT_PASSWORD))
    assert statuses[6:] == [429, 429]


def test_an_accounts_login_limit_is_one_for_both_apis(
    strict_api: Conduit, user: MakeUser, tenant: Tenant
) -> None:
    user(email="jake@jake.jake")

    native = [
        strict_api.client.post(
            tenant_path(tenant, "/auth/token"),
            data={"username": "jake@jake.jake", "password": "wrong"},
        ).status_code
        for _ in range(2)
    ]
    conduit = strict_api.login("jake@jake.jake", "wrong")

    assert (native, conduit.status_code) == ([401, 401], 401)
    assert_rate_limited(strict_api.login("jake@jake.jake", DEFAULT_PASSWORD))


def test_a_login_whose_body_is_refused_is_not_counted(strict_api: Conduit, user: MakeUser) -> None:
    user(email="jake@jake.jake")

    for _ in range(4):
        refused = strict_api.post("/users/login", None, {"user": {"email": "jake@jake.jake"}})
        assert_error(refused, 422, "password", "can't be blank")

    assert strict_api.login("jake@jake.jake", DEFAULT_PASSWORD).status_code == 200


# --- GET /user and tokens ---------------------------------------------------------------------


def test_current_user_with_a_token(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake", email="jake@jake.jake", bio="Hi", image="https://x.example/j.png")

    body = ok(api.get("/user", me))["user"]

    assert set(body) == USER_KEYS
    assert {k: body[k] for k in ("username", "email", "bio", "image")} == {
        "username": "jake",
        "email": "jake@jake.jake",
        "bio": "Hi",
        "image": "https://x.example/j.png",
    }
    assert ok(api.get("/user", body["token"]))["user"]["username"] == "jake"


def test_current_user_accepts_a_bearer_token_too(
    api: Conduit, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    me = user()

    response = api.request("GET", "/user", headers=auth_headers(me))

    assert ok(response)["user"]["username"] == me.username


def test_current_user_without_a_token_is_401(api: Conduit) -> None:
    assert_unauthenticated(api.get("/user"))


# Each builds the Authorization header value for a user from a bad token.
BAD_TOKENS = {
    "garbage": lambda _u, _t: "Token garbage",
    "tampered": lambda _u, t: f"Token {flip_signature_character(t)}",
    "expired": lambda u, _t: (
        "Token " + sign(claims_for(u, iat=int(time.time()) - 3600, exp=int(time.time()) - 60))
    ),
    "refresh type": lambda u, _t: f"Token {sign(claims_for(u, typ='refresh'))}",
    "wrong key": lambda u, _t: f"Token {sign(claims_for(u), key='not-the-key-' * 4)}",
    "names an unknown blog": lambda u, _t: f"Token {sign(claims_for(u, tid=str(u.id)))}",
    "unknown scheme": lambda _u, t: f"Basic {t}",
    "no scheme": lambda _u, t: t,
}


@pytest.mark.parametrize("forge", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_bad_token_is_401_invalid(api: Conduit, user: MakeUser, forge: object) -> None:
    me = user()
    header = forge(me, api.token(me))  # type: ignore[operator]

    response = api.request("GET", "/user", headers={"Authorization": header})

    assert_bad_token(response)


def test_a_token_of_a_deleted_account_is_401_invalid(
    api: Conduit, user: MakeUser, client: TestClient, tenant: Tenant, auth_headers: AuthHeaders
) -> None:
    me = user()
    token = api.token(me)
    gone = client.delete(f"/api/v1/tenants/{tenant.slug}/users/me", headers=auth_headers(me))
    assert gone.status_code == 204, gone.text

    assert_bad_token(api.get("/user", token))


@pytest.fixture
def authenticated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens ``auth_service.authenticate``, the one check of a token, is given."""
    tokens: list[str] = []
    real = auth_service.authenticate

    def authenticate(session: Session, **given: Any) -> User:
        tokens.append(given["token"])
        return real(session, **given)

    monkeypatch.setattr(auth_service, "authenticate", authenticate)
    return tokens


def test_a_deactivated_accounts_token_is_refused_by_both_apis_alike(
    api: Conduit,
    user: MakeUser,
    client: TestClient,
    tenant: Tenant,
    auth_headers: AuthHeaders,
    db: Session,
    authenticated: list[str],
) -> None:
    """Both APIs, reading and writing, ask the one native check (which refuses it)."""
    me = user(role=Role.author)
    bearer, token = auth_headers(me), api.token(me)
    deactivate(db, me)

    native = client.get(tenant_path(tenant, "/users/me"), headers=bearer)
    native_write = client.post(
        tenant_path(tenant, "/posts"), json={"title": "T", "body": "B"}, headers=bearer
    )
    conduit = api.get("/user", token)
    conduit_write = api.create_article(token)

    for refused in (native, native_write):
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_token"
    assert_bad_token(conduit)
    assert_bad_token(conduit_write)
    assert authenticated == [token_of(bearer)] * 2 + [token] * 2


def test_a_request_checks_its_token_once(
    api: Conduit, user: MakeUser, authenticated: list[str]
) -> None:
    """A route and its dependencies asking for the caller (an editable article asks too)
    share one check."""
    me = user(role=Role.author)
    token = api.token(me)
    slug = api.article(token)["slug"]
    authenticated.clear()

    ok(api.update_article(slug, token, body="Changed"))
    ok(api.create_article(token, title="Another one"), 201)

    assert authenticated == [token, token]


def dependency_of(annotated: Any) -> object:
    """The dependency function of an ``Annotated[..., Depends(f)]`` alias: ``f``."""
    (depends,) = annotated.__metadata__
    return depends.dependency


def test_the_adapters_callers_are_the_native_dependencies() -> None:
    """Its token scheme, tenant and 401 wording are parameters; the checks are not its own."""
    callers = conduit_dependencies.CONDUIT_CALLERS

    assert isinstance(callers, Callers)
    assert dependency_of(conduit_dependencies.CurrentUser) is callers.current_user
    assert dependency_of(conduit_dependencies.OptionalUser) is callers.optional_user


@pytest.mark.parametrize("role", list(Role))
def test_who_may_write_is_one_rule_for_both_apis(
    api: Conduit,
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    role: Role,
) -> None:
    member = user(role=role)

    native = client.post(
        tenant_path(tenant, "/posts"),
        json={"title": "T", "body": "B"},
        headers=auth_headers(member),
    )
    conduit = api.create_article(member)

    assert native.status_code == conduit.status_code == (403 if role is Role.reader else 201)


# --- PUT /user --------------------------------------------------------------------------------


def test_update_user_changes_the_given_fields_and_keeps_the_others(
    api: Conduit, user: MakeUser
) -> None:
    me = user(username="jake", email="jake@jake.jake", bio="old", image="https://x.example/a.png")

    response = api.put("/user", me, {"user": {"bio": "I like to skateboard"}})

    body = ok(response)["user"]
    assert set(body) == USER_KEYS
    expected = {
        "username": "jake",
        "email": "jake@jake.jake",
        "bio": "I like to skateboard",
        "image": "https://x.example/a.png",
    }
    assert {k: body[k] for k in expected} == expected
    again = ok(api.get("/user", me))["user"]
    assert {k: again[k] for k in expected} == expected


def test_update_user_with_all_fields(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake", email="jake@jake.jake")
    changes = {
        "username": "jacob",
        "email": "jacob@jake.jake",
        "bio": "I like to skateboard",
        "image": "https://i.stack.imgur.com/xHWG8.jpg",
    }

    body = ok(api.put("/user", me, {"user": {**changes, "password": "a-new-password"}}))["user"]

    assert {k: body[k] for k in changes} == changes
    assert "a-new-password" not in str(body)
    assert ok(api.get("/profiles/jacob"))["profile"]["bio"] == "I like to skateboard"
    assert_error(api.get("/profiles/jake"), 404, "profile", "not found")
    assert api.login("jacob@jake.jake", "a-new-password").status_code == 200


def test_update_user_empty_bio_and_image_are_stored_as_null(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake", bio="Something", image="https://x.example/a.png")

    body = ok(api.put("/user", me, {"user": {"bio": "", "image": ""}}))["user"]

    assert (body["bio"], body["image"]) == (None, None)
    profile = ok(api.get("/profiles/jake"))["profile"]
    assert (profile["bio"], profile["image"]) == (None, None)


def test_update_user_null_bio_and_image_clear_them(api: Conduit, user: MakeUser) -> None:
    me = user(bio="Something", image="https://x.example/a.png")

    body = ok(api.put("/user", me, {"user": {"bio": None, "image": None}}))["user"]

    assert (body["bio"], body["image"]) == (None, None)


@pytest.mark.parametrize(
    "image", ["javascript:alert(1)", "ftp://x.example/a.png", "not a url", "/relative.png"]
)
def test_update_user_image_must_be_an_http_url(api: Conduit, user: MakeUser, image: str) -> None:
    me = user(image="https://x.example/a.png")

    response = api.put("/user", me, {"user": {"image": image}})

    assert_error_on(response, 422, "image")
    assert ok(api.get("/user", me))["user"]["image"] == "https://x.example/a.png"


@pytest.mark.parametrize(
    "image", ["javascript:alert(1)", "ftp://x.example/a.png", "not a url", "HTTP://x.example/a.png"]
)
def test_a_refused_image_says_it_must_be_an_http_url(
    api: Conduit, user: MakeUser, image: str
) -> None:
    response = api.put("/user", user(), {"user": {"image": image}})

    assert_error(response, 422, "image", "must be an http(s) URL")


def test_the_schema_documents_an_image_as_an_http_url_or_empty(api: Conduit) -> None:
    schemas = ok(api.get("/openapi.json"))["components"]["schemas"]

    image = schemas["UpdateUser"]["properties"]["image"]["anyOf"]

    assert image[0]["pattern"] == "^https?://"
    assert {"const": "", "type": "string"} in image


def test_update_user_password_replaces_the_old_one(api: Conduit, user: MakeUser) -> None:
    me = user(email="jake@jake.jake")

    assert api.put("/user", me, {"user": {"password": "a-brand-new-one"}}).status_code == 200

    assert api.login("jake@jake.jake", "a-brand-new-one").status_code == 200
    assert_error(api.login("jake@jake.jake", DEFAULT_PASSWORD), 401, "credentials", "invalid")


def test_update_user_password_over_72_bytes_is_422(api: Conduit, user: MakeUser) -> None:
    me = user()

    assert_error_on(
        api.put("/user", me, {"user": {"password": TOO_LONG_PASSWORD}}), 422, "password"
    )


def test_update_user_to_a_taken_username_is_409_ignoring_case(api: Conduit, user: MakeUser) -> None:
    me = user()
    user(username="jake")

    response = api.put("/user", me, {"user": {"username": "Jake"}})

    assert_error(response, 409, "username", "has already been taken")


def test_update_user_to_a_taken_email_is_409(api: Conduit, user: MakeUser) -> None:
    me = user()
    user(email="jake@jake.jake")

    response = api.put("/user", me, {"user": {"email": "jake@jake.jake"}})

    assert_error(response, 409, "email", "has already been taken")


def test_update_user_keeping_their_own_username_is_fine(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake")

    assert api.put("/user", me, {"user": {"username": "jake", "bio": "x"}}).status_code == 200


@pytest.mark.parametrize("field", ["username", "email"])
def test_update_user_to_a_blank_username_or_email_is_422(
    api: Conduit, user: MakeUser, field: str
) -> None:
    me: User = user()

    assert_error_on(api.put("/user", me, {"user": {field: ""}}), 422, field)


def test_update_user_without_a_token_is_401(api: Conduit) -> None:
    assert_unauthenticated(api.put("/user", None, {"user": {"bio": "x"}}))


def test_update_user_without_the_user_envelope_is_422(api: Conduit, user: MakeUser) -> None:
    assert_error(api.put("/user", user(), {"bio": "x"}), 422, "user", "can't be blank")
