"""Authentication through the HTTP API: sign-up, login, access tokens, refresh, logout.

Covers the password rules (bcrypt's 72-byte limit), tenant isolation of every
credential, forged and tampered access tokens, refresh-token rotation with reuse
detection, and that refresh tokens are stored only as hashes.
"""

import base64
import json
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt
from sqlmodel import Session, select

from blog.auth.models import RefreshToken
from blog.database import utcnow
from blog.tenants.models import Tenant
from blog.testing.plugin import TEST_SECRET_KEY
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.factories import DEFAULT_PASSWORD, TenantFactory
from tests.problems import problem_body

Login = Callable[..., dict[str, object]]
MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]

NEW_USER = {"email": "Jane.Doe@Example.com", "username": "Jane_Doe", "password": "long-enough"}
TOO_LONG_PASSWORD = "é" * 37  # 37 characters, but 74 bytes in UTF-8


# --- helpers -------------------------------------------------------------------------------


def register(client: TestClient, tenant: Tenant, **overrides: object) -> httpx.Response:
    return client.post(tenant_path(tenant, "/auth/register"), json={**NEW_USER, **overrides})


def request_token(
    client: TestClient, tenant: Tenant, username: str, password: str = DEFAULT_PASSWORD
) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/auth/token"), data={"username": username, "password": password}
    )


def refresh(client: TestClient, tenant: Tenant, refresh_token: object) -> httpx.Response:
    return client.post(tenant_path(tenant, "/auth/refresh"), json={"refresh_token": refresh_token})


def logout(client: TestClient, tenant: Tenant, refresh_token: object) -> httpx.Response:
    return client.post(tenant_path(tenant, "/auth/logout"), json={"refresh_token": refresh_token})


def read_me(client: TestClient, tenant: Tenant, access_token: object) -> httpx.Response:
    return client.get(
        tenant_path(tenant, "/users/me"), headers={"Authorization": f"Bearer {access_token}"}
    )


def change_password(
    client: TestClient, tenant: Tenant, access_token: object, current: str, new: str
) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/users/me/password"),
        json={"current_password": current, "new_password": new},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def deactivate(db: Session, account: User) -> None:
    account.is_active = False
    db.add(account)
    db.commit()


def claims_for(account: User, **changes: object) -> dict[str, object]:
    """Valid access-token claims for ``account``, with ``changes`` applied."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(account.id),
        "tid": str(account.tenant_id),
        "iat": now,
        "exp": now + 900,
        "jti": secrets.token_urlsafe(12),
        "typ": "access",
        "gen": account.token_generation,
    }
    return {**claims, **changes}


def sign(claims: dict[str, object], key: str = TEST_SECRET_KEY, algorithm: str = "HS256") -> str:
    return str(jwt.encode(claims, key, algorithm=algorithm))


def b64url(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def flip_signature_character(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(signature) // 2  # not the last character, whose low bits may be padding
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join((header, payload, signature[:middle] + flipped + signature[middle + 1 :]))


# Each builds the Authorization header value (None: no header) for a user's forged token.
FORGERIES: dict[str, Callable[[User], str | None]] = {
    "missing header": lambda _: None,
    "garbage": lambda _: "Bearer garbage",
    "non-bearer scheme": lambda u: f"Basic {sign(claims_for(u))}",
    "expired": lambda u: (
        "Bearer " + sign(claims_for(u, iat=int(time.time()) - 3600, exp=int(time.time()) - 60))
    ),
    "typ refresh": lambda u: f"Bearer {sign(claims_for(u, typ='refresh'))}",
    "alg none": lambda u: (
        f"Bearer {b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims_for(u))}."
    ),
    "HS512 with right secret": lambda u: f"Bearer {sign(claims_for(u), algorithm='HS512')}",
    "other secret": lambda u: f"Bearer {sign(claims_for(u), key='another-secret-key-' * 3)}",
    "flipped signature": lambda u: f"Bearer {flip_signature_character(sign(claims_for(u)))}",
    "another generation": lambda u: f"Bearer {sign(claims_for(u, gen=u.token_generation + 1))}",
    "generation as text": lambda u: f"Bearer {sign(claims_for(u, gen=str(u.token_generation)))}",
    "no generation": lambda u: (
        f"Bearer {sign({k: v for k, v in claims_for(u).items() if k != 'gen'})}"
    ),
}


# --- registration ---------------------------------------------------------------------------


def test_register_creates_author_with_lower_cased_email(client: TestClient, tenant: Tenant) -> None:
    response = register(client, tenant, name="Jane")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "author"
    assert body["email"] == "jane.doe@example.com"
    assert body["username"] == "Jane_Doe"
    assert body["name"] == "Jane"
    assert body["is_active"] is True


def test_register_response_has_no_password_field(client: TestClient, tenant: Tenant) -> None:
    response = register(client, tenant)

    assert response.status_code == 201
    assert not any("password" in key or "hash" in key for key in response.json())
    assert NEW_USER["password"] not in response.text
    assert "$2b$" not in response.text


def test_register_taken_email_is_409_ignoring_case(client: TestClient, tenant: Tenant) -> None:
    register(client, tenant)

    response = register(client, tenant, email="JANE.DOE@example.COM", username="someone_else")

    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_register_taken_username_is_409_ignoring_case(client: TestClient, tenant: Tenant) -> None:
    register(client, tenant)

    response = register(client, tenant, email="other@example.com", username="JANE_doe")

    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"


def test_register_same_email_and_username_in_another_tenant_is_allowed(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert register(client, tenant).status_code == 201

    response = register(client, other_tenant)

    assert response.status_code == 201, response.text


def test_register_when_registration_closed_is_403(client: TestClient, db: Session) -> None:
    closed: Tenant = TenantFactory.create(registration_open=False)

    response = register(client, closed)

    assert response.status_code == 403
    assert response.json()["code"] == "registration_closed"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "owner"),
        ("tenant_id", "00000000-0000-0000-0000-000000000000"),
        ("id", "00000000-0000-0000-0000-000000000000"),
        ("hashed_password", "$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"),
    ],
)
def test_register_refuses_unknown_fields(
    client: TestClient, tenant: Tenant, field: str, value: str
) -> None:
    response = register(client, tenant, **{field: value})

    assert response.status_code == 422


def test_register_password_shorter_than_8_characters_is_422(
    client: TestClient, tenant: Tenant
) -> None:
    response = register(client, tenant, password="1234567")

    assert response.status_code == 422


@pytest.mark.parametrize("password", [TOO_LONG_PASSWORD, "a" * 73], ids=["74-bytes-37-chars", "73"])
def test_register_password_over_72_bytes_is_422(
    client: TestClient, tenant: Tenant, password: str
) -> None:
    response = register(client, tenant, password=password)

    assert response.status_code == 422, response.text
    assert password not in response.text


def test_register_non_ascii_password_can_log_in(client: TestClient, tenant: Tenant) -> None:
    password = "pässwörd-ünïcödé"
    assert register(client, tenant, password=password).status_code == 201

    response = request_token(client, tenant, NEW_USER["username"], password)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("password", ["a" * 72, "é" * 36], ids=["ascii", "two-byte-chars"])
def test_register_password_of_exactly_72_bytes_can_log_in(
    client: TestClient, tenant: Tenant, password: str
) -> None:
    assert register(client, tenant, password=password).status_code == 201

    response = request_token(client, tenant, NEW_USER["username"], password)

    assert response.status_code == 200, response.text


# --- login ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login_name",
    ["Jane_Doe", "jane_doe", "JANE_DOE", "jane.doe@example.com", "Jane.Doe@EXAMPLE.com"],
)
def test_login_accepts_email_or_username_in_any_case(
    client: TestClient, tenant: Tenant, user: MakeUser, login_name: str
) -> None:
    user(username="Jane_Doe", email="jane.doe@example.com")

    response = request_token(client, tenant, login_name)

    assert response.status_code == 200, response.text


def test_login_returns_bearer_token_pair(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    account = user()

    response = request_token(client, tenant, account.username)

    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "csrf_token",
    }
    assert body["csrf_token"] is None  # only a cookie login has one
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    assert read_me(client, tenant, body["access_token"]).json()["id"] == str(account.id)


def test_login_wrong_password_and_unknown_user_get_identical_401(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    account = user()

    wrong_password = request_token(client, tenant, account.username, "not-the-password")
    unknown_user = request_token(client, tenant, "nobody", "not-the-password")

    assert_unauthorized(wrong_password)
    assert_unauthorized(unknown_user)
    assert problem_body(wrong_password) == problem_body(unknown_user)


def test_login_of_unknown_user_costs_a_bcrypt_check_like_a_known_one(
    app: FastAPI,
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing oracle: a miss verifies against a dummy hash instead of returning early."""
    account = user()
    checked: list[str] = []
    hasher = app.state.auth.hasher
    real_verify = hasher._context.verify

    def counting_verify(secret: str, hashed: str) -> bool:
        checked.append(hashed[:7])
        return bool(real_verify(secret, hashed))

    monkeypatch.setattr(hasher._context, "verify", counting_verify)

    request_token(client, tenant, account.username, "not-the-password")
    request_token(client, tenant, "nobody", "not-the-password")

    assert checked == ["$2b$04$", "$2b$04$"]


def test_login_of_deactivated_user_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    account = user(is_active=False)

    response = request_token(client, tenant, account.username)

    assert_unauthorized(response)


@pytest.mark.parametrize("known", [True, False], ids=["known-user", "unknown-user"])
def test_login_password_over_72_bytes_is_422(
    client: TestClient, tenant: Tenant, user: MakeUser, known: bool
) -> None:
    name = user().username if known else "nobody"

    response = request_token(client, tenant, name, TOO_LONG_PASSWORD)

    assert response.status_code == 422, response.text


@pytest.mark.parametrize("missing", ["username", "password"])
def test_login_without_a_field_names_it_once(
    client: TestClient, tenant: Tenant, missing: str
) -> None:
    """The form is read by the login's rate limit and by the route: still one error."""
    form = {"username": "jane", "password": "long-enough"}
    del form[missing]

    response = client.post(tenant_path(tenant, "/auth/token"), data=form)

    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["errors"]] == [["body", missing]]


def test_login_takes_the_whole_oauth2_password_form(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    """What OAuth2 clients (Swagger UI's Authorize among them) send is accepted."""
    account = user()
    form = {
        "grant_type": "password",
        "username": account.username,
        "password": DEFAULT_PASSWORD,
        "scope": "",
        "client_id": "swagger",
        "client_secret": "unused",
    }

    response = client.post(tenant_path(tenant, "/auth/token"), data=form)

    assert response.status_code == 200, response.text


def test_login_with_another_grant_type_is_422(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    form = {"grant_type": "client_credentials", "username": user().username, "password": "x"}

    response = client.post(tenant_path(tenant, "/auth/token"), data=form)

    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "grant_type"]]


def test_login_under_another_tenants_path_is_401(
    client: TestClient, other_tenant: Tenant, user: MakeUser
) -> None:
    account = user()

    response = request_token(client, other_tenant, account.username)

    assert_unauthorized(response)


# --- access tokens --------------------------------------------------------------------------


def test_access_token_from_login_reads_me(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    tokens = login(tenant, account.username)

    response = read_me(client, tenant, tokens["access_token"])

    assert response.status_code == 200
    assert response.json()["username"] == account.username


def test_hand_built_access_token_is_accepted(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    """The control for the forgery tests: the hand-built claims are otherwise valid."""
    account = user()

    response = read_me(client, tenant, sign(claims_for(account)))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_or_tampered_access_token_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, forge: Callable[[User], str | None]
) -> None:
    authorization = forge(user())
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get(tenant_path(tenant, "/users/me"), headers=headers)

    assert_unauthorized(response)


@pytest.mark.parametrize("claim", ["sub", "tid", "exp", "iat", "jti", "typ"])
def test_access_token_missing_a_claim_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, claim: str
) -> None:
    claims = claims_for(user())
    del claims[claim]

    response = read_me(client, tenant, sign(claims))

    assert_unauthorized(response)


def test_refresh_token_is_not_an_access_token(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)

    response = read_me(client, tenant, tokens["refresh_token"])

    assert_unauthorized(response)


def test_access_token_of_one_tenant_is_401_under_another(
    client: TestClient,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    headers = auth_headers(user())

    response = client.get(tenant_path(other_tenant, "/users/me"), headers=headers)

    assert_unauthorized(response)


def test_access_token_naming_another_tenant_is_401_even_for_a_local_user_id(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
) -> None:
    """The ``tid`` claim is checked, not only implied by the scoped user lookup."""
    local = user()
    token = sign(claims_for(local, tid=str(other_tenant.id)))

    response = read_me(client, tenant, token)

    assert_unauthorized(response)


def test_access_token_of_deleted_user_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    account = user()
    headers = auth_headers(account)
    db.delete(account)
    db.commit()

    response = client.get(tenant_path(tenant, "/users/me"), headers=headers)

    assert_unauthorized(response)


def test_access_token_stops_working_when_user_is_deactivated_in_db(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    account = user()
    headers = auth_headers(account)
    assert client.get(tenant_path(tenant, "/users/me"), headers=headers).status_code == 200

    deactivate(db, account)

    assert_unauthorized(client.get(tenant_path(tenant, "/users/me"), headers=headers))


def test_access_token_stops_working_when_admin_deactivates_user(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    admin, account = user(role=Role.admin), user()
    headers = auth_headers(account)

    patched = client.patch(
        tenant_path(tenant, f"/users/{account.id}"),
        json={"is_active": False},
        headers=auth_headers(admin),
    )

    assert patched.status_code == 200, patched.text
    assert_unauthorized(client.get(tenant_path(tenant, "/users/me"), headers=headers))


# --- refresh --------------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_with_a_different_refresh_token(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)

    response = refresh(client, tenant, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] != tokens["refresh_token"]
    assert read_me(client, tenant, body["access_token"]).status_code == 200


def test_rotated_refresh_token_works(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)
    rotated = refresh(client, tenant, tokens["refresh_token"]).json()

    response = refresh(client, tenant, rotated["refresh_token"])

    assert response.status_code == 200, response.text


def test_reused_refresh_token_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)
    refresh(client, tenant, tokens["refresh_token"])

    response = refresh(client, tenant, tokens["refresh_token"])

    assert_unauthorized(response)


def test_reused_refresh_token_revokes_the_newest_token_of_its_login(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)
    newest = refresh(client, tenant, tokens["refresh_token"]).json()["refresh_token"]
    assert_unauthorized(refresh(client, tenant, tokens["refresh_token"]))

    response = refresh(client, tenant, newest)

    assert_unauthorized(response)


def test_reuse_in_one_login_leaves_another_login_working(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    first, second = login(tenant, account.username), login(tenant, account.username)
    refresh(client, tenant, first["refresh_token"])
    assert_unauthorized(refresh(client, tenant, first["refresh_token"]))

    response = refresh(client, tenant, second["refresh_token"])

    assert response.status_code == 200, response.text


def test_unknown_refresh_token_is_401(client: TestClient, tenant: Tenant) -> None:
    response = refresh(client, tenant, secrets.token_urlsafe(32))

    assert_unauthorized(response)


def test_refresh_token_under_another_tenants_path_is_401(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)

    response = refresh(client, other_tenant, tokens["refresh_token"])

    assert_unauthorized(response)


def test_refresh_token_of_deactivated_user_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login, db: Session
) -> None:
    account = user()
    tokens = login(tenant, account.username)
    deactivate(db, account)

    response = refresh(client, tenant, tokens["refresh_token"])

    assert_unauthorized(response)


def test_expired_refresh_token_is_401(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login, db: Session
) -> None:
    tokens = login(tenant, user().username)
    for row in db.exec(select(RefreshToken)).all():
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.add(row)
    db.commit()

    response = refresh(client, tenant, tokens["refresh_token"])

    assert_unauthorized(response)


# --- logout ---------------------------------------------------------------------------------


def test_logout_is_204_and_the_refresh_token_stops_working(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)

    response = logout(client, tenant, tokens["refresh_token"])

    assert response.status_code == 204
    assert_unauthorized(refresh(client, tenant, tokens["refresh_token"]))


def test_logout_ends_the_whole_login(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    tokens = login(tenant, user().username)
    newest = refresh(client, tenant, tokens["refresh_token"]).json()["refresh_token"]

    assert logout(client, tenant, tokens["refresh_token"]).status_code == 204

    assert_unauthorized(refresh(client, tenant, newest))


def test_logout_with_unknown_token_is_204(client: TestClient, tenant: Tenant) -> None:
    response = logout(client, tenant, secrets.token_urlsafe(32))

    assert response.status_code == 204


def test_logout_leaves_another_login_working(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    first, second = login(tenant, account.username), login(tenant, account.username)

    assert logout(client, tenant, first["refresh_token"]).status_code == 204

    assert refresh(client, tenant, second["refresh_token"]).status_code == 200


# --- password change ------------------------------------------------------------------------


def test_change_password_is_204_and_the_old_password_no_longer_logs_in(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    tokens = login(tenant, account.username)

    response = change_password(
        client, tenant, tokens["access_token"], DEFAULT_PASSWORD, "brand-new-password"
    )

    assert response.status_code == 204, response.text
    assert_unauthorized(request_token(client, tenant, account.username, DEFAULT_PASSWORD))


def test_changed_password_logs_in(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    tokens = login(tenant, account.username)
    change_password(client, tenant, tokens["access_token"], DEFAULT_PASSWORD, "brand-new-password")

    response = request_token(client, tenant, account.username, "brand-new-password")

    assert response.status_code == 200, response.text


def test_change_password_revokes_earlier_refresh_tokens(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    first, second = login(tenant, account.username), login(tenant, account.username)

    change_password(client, tenant, first["access_token"], DEFAULT_PASSWORD, "brand-new-password")

    assert_unauthorized(refresh(client, tenant, first["refresh_token"]))
    assert_unauthorized(refresh(client, tenant, second["refresh_token"]))


def test_change_password_with_wrong_current_password_is_422(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    tokens = login(tenant, account.username)

    response = change_password(
        client, tenant, tokens["access_token"], "not-the-password", "brand-new-password"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "wrong_current_password"
    assert request_token(client, tenant, account.username).status_code == 200


def test_change_password_to_over_72_bytes_is_422(
    client: TestClient, tenant: Tenant, user: MakeUser, login: Login
) -> None:
    account = user()
    tokens = login(tenant, account.username)

    response = change_password(
        client, tenant, tokens["access_token"], DEFAULT_PASSWORD, TOO_LONG_PASSWORD
    )

    assert response.status_code == 422, response.text
    assert request_token(client, tenant, account.username).status_code == 200


# --- storage --------------------------------------------------------------------------------


def test_refresh_tokens_are_stored_only_as_hashes(
    tenant: Tenant, user: MakeUser, login: Login, db: Session
) -> None:
    plain = str(login(tenant, user().username)["refresh_token"])

    rows = db.exec(select(RefreshToken)).all()

    assert len(rows) == 1
    assert all(plain not in str(value) for value in rows[0].model_dump().values())
