"""Account flows through the HTTP API, with mail delivered to a real SMTP server.

Email verification, password reset, email change, lockout, sessions, the end of access
tokens at once, and the refresh token in a cookie. Every link is followed the way a
frontend would: the token is read from the mail that arrived and posted back to the API.
"""

import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from blog.auth.models import AccountToken, LinkPurpose
from blog.auth.security import hash_token
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.mail import MailServer, link_in, text_of, token_in
from blog.users.models import Role, User
from tests.conduit import Conduit
from tests.conftest import QueryCounter, tenant_path
from tests.factories import DEFAULT_PASSWORD, AccountTokenFactory, UserFactory

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
NEW_PASSWORD = "a-whole-new-password"


@pytest.fixture
def settings(settings: Settings, mail_server: MailServer) -> Settings:
    """Every mail of the app goes to the SMTP server of the test."""
    return mail_server.settings_for(settings)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log line of the test, to check that none holds a token."""
    caplog.set_level(logging.DEBUG)
    return caplog


def token_pair(
    client: TestClient,
    tenant: Tenant,
    login: str,
    password: str = DEFAULT_PASSWORD,
    **headers: str,
) -> dict[str, str]:
    response = client.post(
        tenant_path(tenant, "/auth/token"),
        data={"username": login, "password": password},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


def bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def me(client: TestClient, tenant: Tenant, headers: dict[str, str]) -> httpx.Response:
    return client.get(tenant_path(tenant, "/users/me"), headers=headers)


def refresh(client: TestClient, tenant: Tenant, refresh_token: str) -> httpx.Response:
    return client.post(tenant_path(tenant, "/auth/refresh"), json={"refresh_token": refresh_token})


def post_token(client: TestClient, tenant: Tenant, path: str, **body: str) -> httpx.Response:
    return client.post(tenant_path(tenant, path), json=body)


def assert_invalid_link(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_link"


# The test's own SMTP server logs what it receives: that is the mail itself.
MAIL_SERVER_LOGGER = "mail.log"


def assert_no_secret_logged(logs: pytest.LogCaptureFixture, *secrets: str) -> None:
    """No log line of the app (or of anything but the SMTP server) holds a secret."""
    assert logs.records, "nothing was captured: the check would prove nothing"
    for record in logs.records:
        if record.name == MAIL_SERVER_LOGGER:
            continue
        line = record.getMessage()
        for secret in secrets:
            assert secret not in line, f"a log line holds a secret: {record.name}"


# --- verification --------------------------------------------------------------------------


def test_registration_mails_a_link_that_verifies_the_address_once(
    client: TestClient, tenant: Tenant, mail_server: MailServer, logs: pytest.LogCaptureFixture
) -> None:
    response = client.post(
        tenant_path(tenant, "/auth/register"),
        json={"email": "Ada@Example.com", "username": "ada", "password": "long-enough"},
    )
    assert response.status_code == 201
    assert response.json()["email_verified"] is False

    (mail,) = mail_server.wait_for("ada@example.com")
    assert tenant.name in text_of(mail)
    assert link_in(mail).startswith(f"http://localhost:5173/{tenant.slug}/verify-email?token=")
    token = token_in(mail)
    assert token not in response.text

    assert post_token(client, tenant, "/auth/verify-email", token=token).status_code == 204
    pair = token_pair(client, tenant, "ada", "long-enough")
    body = me(client, tenant, bearer(pair)).json()
    assert body["email_verified"] is True
    assert body["email_verified_at"] is not None

    assert_invalid_link(post_token(client, tenant, "/auth/verify-email", token=token))
    assert_no_secret_logged(logs, token, hash_token(token), pair["refresh_token"])


def test_a_link_of_one_blog_does_nothing_in_another(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    member = user(email_verified_at=None)
    AccountTokenFactory(user=member, token="foreign-token", purpose=LinkPurpose.verify_email)

    assert_invalid_link(
        post_token(client, other_tenant, "/auth/verify-email", token="foreign-token")
    )

    assert me(client, tenant, auth_headers(member)).json()["email_verified"] is False


def test_an_expired_or_unknown_or_wrong_kind_of_link_is_refused(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    member = user(email_verified_at=None)
    AccountTokenFactory(
        user=member,
        token="expired",
        purpose=LinkPurpose.verify_email,
        lifetime=timedelta(seconds=-1),
    )
    AccountTokenFactory(user=member, token="a-reset-link", purpose=LinkPurpose.reset_password)

    for token in ("expired", "never-issued", "a-reset-link"):
        assert_invalid_link(post_token(client, tenant, "/auth/verify-email", token=token))
    assert me(client, tenant, auth_headers(member)).json()["email_verified"] is False


def test_resending_mails_a_new_link_a_few_times_an_hour(
    client: TestClient,
    app: FastAPI,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    mail_server: MailServer,
) -> None:
    member = user(email_verified_at=None)
    path = tenant_path(tenant, "/auth/verify-email/resend")
    allowed = app.state.settings.verification_resends_per_hour

    answers = [client.post(path, headers=auth_headers(member)) for _ in range(allowed + 1)]

    assert [a.status_code for a in answers] == [202] * allowed + [429]
    assert "Retry-After" in answers[-1].headers
    mails = mail_server.wait_for(member.email, count=allowed)
    assert len({token_in(mail) for mail in mails}) == allowed


def test_resending_to_a_verified_address_is_409(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, app: FastAPI
) -> None:
    member = user()  # factories make verified members

    response = client.post(
        tenant_path(tenant, "/auth/verify-email/resend"), headers=auth_headers(member)
    )

    assert response.status_code == 409
    assert response.json()["code"] == "email_already_verified"


def test_a_verification_link_stops_working_once_the_address_changes(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    member = user(email_verified_at=None, email="old@example.com")
    AccountTokenFactory(user=member, token="to-old", purpose=LinkPurpose.verify_email)
    member.email = "new@example.com"
    db.add(member)
    db.commit()

    assert_invalid_link(post_token(client, tenant, "/auth/verify-email", token="to-old"))
    assert me(client, tenant, auth_headers(member)).json()["email_verified"] is False


# --- verification required for writing -----------------------------------------------------


def require_verification(client: TestClient, tenant: Tenant, owner_headers: dict[str, str]) -> None:
    response = client.patch(
        tenant_path(tenant), json={"require_verified_email": True}, headers=owner_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["require_verified_email"] is True


def test_a_blog_may_require_a_verified_address_to_post_and_comment(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    require_verification(client, tenant, auth_headers(user(role=Role.owner)))
    writer = user(email_verified_at=None)
    verified = user()
    post = {"title": "Hello", "description": "d", "body": "b", "status": "published"}
    created = client.post(tenant_path(tenant, "/posts"), json=post, headers=auth_headers(verified))
    assert created.status_code == 201
    post_id = created.json()["id"]

    refused_post = client.post(
        tenant_path(tenant, "/posts"), json=post, headers=auth_headers(writer)
    )
    refused_comment = client.post(
        tenant_path(tenant, f"/posts/{post_id}/comments"),
        json={"body": "hi"},
        headers=auth_headers(writer),
    )

    for refused in (refused_post, refused_comment):
        assert refused.status_code == 403
        assert refused.json()["code"] == "email_not_verified"
    # Reading and logging in still work.
    assert client.get(
        tenant_path(tenant, f"/posts/{post_id}"), headers=auth_headers(writer)
    ).is_success
    token_pair(client, tenant, writer.username)


def test_without_the_requirement_unverified_members_write(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    writer = user(email_verified_at=None)
    post = {"title": "Hello", "description": "d", "body": "b", "status": "published"}

    response = client.post(tenant_path(tenant, "/posts"), json=post, headers=auth_headers(writer))

    assert response.status_code == 201


# --- forgotten passwords -------------------------------------------------------------------


def forgot(client: TestClient, tenant: Tenant, email: str) -> httpx.Response:
    return client.post(tenant_path(tenant, "/auth/password/forgot"), json={"email": email})


def test_forgot_password_answers_alike_for_known_and_unknown_addresses(
    client: TestClient, app: FastAPI, tenant: Tenant, user: MakeUser, mail_server: MailServer
) -> None:
    member = user(email="ada@example.com")

    known = forgot(client, tenant, "ADA@example.com")
    unknown = forgot(client, tenant, "nobody@example.com")

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 202
    mail_server.wait_for(member.email)
    assert app.state.background.drain(5)
    assert mail_server.messages_to("nobody@example.com") == []


def test_a_reset_link_sets_the_password_once_and_ends_every_login_at_once(
    client: TestClient,
    app: FastAPI,
    tenant: Tenant,
    user: MakeUser,
    mail_server: MailServer,
    logs: pytest.LogCaptureFixture,
) -> None:
    member = user()
    pair = token_pair(client, tenant, member.username)
    forgot(client, tenant, member.email)
    (mail,) = mail_server.wait_for(member.email)
    token = token_in(mail)
    assert link_in(mail).startswith(f"http://localhost:5173/{tenant.slug}/reset-password?")

    reset = post_token(
        client, tenant, "/auth/password/reset", token=token, new_password=NEW_PASSWORD
    )

    assert reset.status_code == 204
    assert me(client, tenant, bearer(pair)).status_code == 401  # at once, not in 15 minutes
    assert refresh(client, tenant, pair["refresh_token"]).status_code == 401
    token_pair(client, tenant, member.username, NEW_PASSWORD)
    assert (
        client.post(
            tenant_path(tenant, "/auth/token"),
            data={"username": member.username, "password": DEFAULT_PASSWORD},
        ).status_code
        == 401
    )
    assert_invalid_link(
        post_token(client, tenant, "/auth/password/reset", token=token, new_password="x" * 12)
    )
    assert_no_secret_logged(logs, token, pair["access_token"], pair["refresh_token"])


def test_a_reset_link_expires_and_belongs_to_its_blog(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    AccountTokenFactory(user=member, token="late", lifetime=timedelta(seconds=-1))
    AccountTokenFactory(user=member, token="elsewhere")

    assert_invalid_link(
        post_token(client, tenant, "/auth/password/reset", token="late", new_password=NEW_PASSWORD)
    )
    assert_invalid_link(
        post_token(
            client,
            other_tenant,
            "/auth/password/reset",
            token="elsewhere",
            new_password=NEW_PASSWORD,
        )
    )
    token_pair(client, tenant, member.username)  # the password is unchanged


def test_a_used_reset_link_spends_the_others(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    AccountTokenFactory(user=member, token="first")
    AccountTokenFactory(user=member, token="second")

    ok = post_token(
        client, tenant, "/auth/password/reset", token="first", new_password=NEW_PASSWORD
    )

    assert ok.status_code == 204
    assert_invalid_link(
        post_token(client, tenant, "/auth/password/reset", token="second", new_password="y" * 12)
    )


def test_reset_links_are_stored_only_as_hashes(
    client: TestClient, tenant: Tenant, user: MakeUser, mail_server: MailServer, db: Session
) -> None:
    member = user()
    forgot(client, tenant, member.email)
    token = token_in(mail_server.wait_for(member.email)[0])

    stored = db.exec(select(AccountToken.token_hash)).all()

    assert stored == [hash_token(token)]
    assert token not in stored


# --- changing the address ------------------------------------------------------------------


def change_email(
    client: TestClient, tenant: Tenant, headers: dict[str, str], new_email: str, password: str
) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/users/me/email"),
        json={"new_email": new_email, "current_password": password},
        headers=headers,
    )


def test_an_email_change_is_confirmed_from_the_new_address_and_told_to_the_old(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    mail_server: MailServer,
) -> None:
    member = user(email="old@example.com")
    headers = auth_headers(member)

    asked = change_email(client, tenant, headers, "New@Example.com", DEFAULT_PASSWORD)

    assert asked.status_code == 202
    (confirmation,) = mail_server.wait_for("new@example.com")
    (notice,) = mail_server.wait_for("old@example.com")
    assert "new@example.com" in text_of(notice)
    assert token_in(confirmation) not in text_of(notice)
    assert me(client, tenant, headers).json()["email"] == "old@example.com"  # not yet

    token = token_in(confirmation)
    assert post_token(client, tenant, "/auth/email/confirm", token=token).status_code == 204
    body = me(client, tenant, headers).json()
    assert (body["email"], body["email_verified"]) == ("new@example.com", True)
    assert_invalid_link(post_token(client, tenant, "/auth/email/confirm", token=token))
    token_pair(client, tenant, "new@example.com")


def test_an_email_change_needs_the_password_and_a_free_address(
    client: TestClient,
    app: FastAPI,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    mail_server: MailServer,
) -> None:
    user(email="taken@example.com")
    member = user()
    headers = auth_headers(member)

    wrong = change_email(client, tenant, headers, "fresh@example.com", "not-the-password")
    taken = change_email(client, tenant, headers, "TAKEN@example.com", DEFAULT_PASSWORD)
    same = change_email(client, tenant, headers, member.email, DEFAULT_PASSWORD)

    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_current_password")
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    assert (same.status_code, same.json()["code"]) == (422, "same_email")
    assert app.state.background.drain(5)
    assert mail_server.received == []


def test_an_address_used_in_another_blog_is_free_here(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    user(email="shared@example.com", tenant=other_tenant)
    member = user()

    response = change_email(
        client, tenant, auth_headers(member), "shared@example.com", DEFAULT_PASSWORD
    )

    assert response.status_code == 202


def test_a_confirmation_fails_if_the_address_was_taken_meanwhile(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    member = user()
    AccountTokenFactory(
        user=member, token="late", purpose=LinkPurpose.change_email, email="wanted@example.com"
    )
    user(email="wanted@example.com")

    response = post_token(client, tenant, "/auth/email/confirm", token="late")

    assert (response.status_code, response.json()["code"]) == (409, "email_taken")
    assert me(client, tenant, auth_headers(member)).json()["email"] == member.email


# --- lockout -------------------------------------------------------------------------------


def lock_after(client: TestClient, tenant: Tenant, owner: dict[str, str], attempts: int) -> None:
    response = client.patch(
        tenant_path(tenant), json={"lockout_threshold": attempts}, headers=owner
    )
    assert response.status_code == 200, response.text
    assert response.json()["lockout_threshold"] == attempts


def attempt(client: TestClient, tenant: Tenant, login: str, password: str) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/auth/token"), data={"username": login, "password": password}
    )


def test_wrong_passwords_lock_the_account_for_a_growing_time(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    lock_after(client, tenant, auth_headers(user(role=Role.owner)), 3)
    member = user()

    misses = [attempt(client, tenant, member.username, "wrong-password") for _ in range(3)]
    locked = attempt(client, tenant, member.username, DEFAULT_PASSWORD)  # right, but locked

    assert [miss.status_code for miss in misses] == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    first_wait = int(locked.headers["Retry-After"])
    assert 0 < first_wait <= 61

    # The lock passes; one more miss locks it again, for twice as long.
    db.refresh(member)
    assert member.locked_until is not None
    member.locked_until -= timedelta(minutes=2)
    db.add(member)
    db.commit()
    assert attempt(client, tenant, member.username, "wrong-again").status_code == 401
    second_wait = int(
        attempt(client, tenant, member.username, DEFAULT_PASSWORD).headers["Retry-After"]
    )
    assert 61 < second_wait <= 121


def test_a_right_password_before_the_threshold_resets_the_count(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    lock_after(client, tenant, auth_headers(user(role=Role.owner)), 3)
    member = user()

    for _ in range(2):
        attempt(client, tenant, member.username, "wrong-password")
    token_pair(client, tenant, member.username)
    for _ in range(2):
        attempt(client, tenant, member.username, "wrong-password")

    assert attempt(client, tenant, member.username, DEFAULT_PASSWORD).status_code == 200


def test_an_admin_unlocks_an_account(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    lock_after(client, tenant, auth_headers(user(role=Role.owner)), 2)
    member = user()
    for _ in range(2):
        attempt(client, tenant, member.username, "wrong-password")
    assert me(client, tenant, auth_headers(admin)).status_code == 200
    locked = client.get(tenant_path(tenant, f"/users/{member.id}"), headers=auth_headers(admin))
    assert locked.status_code == 200

    by_author = client.post(
        tenant_path(tenant, f"/users/{member.id}/unlock"), headers=auth_headers(user())
    )
    unlocked = client.post(
        tenant_path(tenant, f"/users/{member.id}/unlock"), headers=auth_headers(admin)
    )

    assert by_author.status_code == 403
    assert unlocked.status_code == 200
    assert unlocked.json()["locked_until"] is None
    assert attempt(client, tenant, member.username, DEFAULT_PASSWORD).status_code == 200


def test_a_password_reset_lifts_a_lockout(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    lock_after(client, tenant, auth_headers(user(role=Role.owner)), 1)
    member = user()
    attempt(client, tenant, member.username, "wrong-password")
    AccountTokenFactory(user=member, token="reset-me")

    post_token(client, tenant, "/auth/password/reset", token="reset-me", new_password=NEW_PASSWORD)

    assert attempt(client, tenant, member.username, NEW_PASSWORD).status_code == 200


def test_failed_logins_do_not_empty_the_blogs_response_cache(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    posts = tenant_path(tenant, "/posts")
    client.get(posts)
    client.get(posts)  # stored on its second sighting
    assert client.get(posts).headers["X-Cache"] == "hit"

    attempt(client, tenant, member.username, "wrong-password")

    assert client.get(posts).headers["X-Cache"] == "hit"


# --- sessions ------------------------------------------------------------------------------


def sessions_of(
    client: TestClient, tenant: Tenant, headers: dict[str, str]
) -> list[dict[str, object]]:
    response = client.get(tenant_path(tenant, "/users/me/sessions"), headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, object]] = response.json()
    return listed


def test_sessions_list_each_login_and_end_one_at_a_time(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    laptop = token_pair(client, tenant, member.username, **{"User-Agent": "Laptop/1.0"})
    phone = token_pair(client, tenant, member.username, **{"User-Agent": "Phone/2.0"})

    listed = sessions_of(client, tenant, bearer(laptop))

    assert sorted(str(s["user_agent"]) for s in listed) == ["Laptop/1.0", "Phone/2.0"]
    assert [s["user_agent"] for s in listed if s["current"]] == ["Laptop/1.0"]
    phone_id = next(s["id"] for s in listed if s["user_agent"] == "Phone/2.0")

    ended = client.delete(
        tenant_path(tenant, f"/users/me/sessions/{phone_id}"), headers=bearer(laptop)
    )

    assert ended.status_code == 204
    assert refresh(client, tenant, phone["refresh_token"]).status_code == 401
    assert [s["user_agent"] for s in sessions_of(client, tenant, bearer(laptop))] == ["Laptop/1.0"]
    assert refresh(client, tenant, laptop["refresh_token"]).status_code == 200
    again = client.delete(
        tenant_path(tenant, f"/users/me/sessions/{phone_id}"), headers=bearer(laptop)
    )
    assert again.status_code == 404


def test_a_refresh_marks_the_session_used(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    pair = token_pair(client, tenant, member.username)
    (before,) = sessions_of(client, tenant, bearer(pair))

    renewed = refresh(client, tenant, pair["refresh_token"]).json()

    (after,) = sessions_of(client, tenant, bearer(renewed))
    assert after["id"] == before["id"]
    assert str(after["last_used_at"]) > str(before["last_used_at"])
    assert after["current"] is True


def test_nobody_ends_another_members_session(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: MakeUser
) -> None:
    victim = user()
    attacker = user()
    foreigner = user(tenant=other_tenant)
    victim_pair = token_pair(client, tenant, victim.username)
    (victim_session,) = sessions_of(client, tenant, bearer(victim_pair))
    path = f"/users/me/sessions/{victim_session['id']}"

    mine = client.delete(
        tenant_path(tenant, path), headers=bearer(token_pair(client, tenant, attacker.username))
    )
    foreign = client.delete(
        tenant_path(other_tenant, path),
        headers=bearer(token_pair(client, other_tenant, foreigner.username)),
    )

    assert (mine.status_code, foreign.status_code) == (404, 404)
    assert refresh(client, tenant, victim_pair["refresh_token"]).status_code == 200


def test_logging_out_everywhere_ends_every_token_at_once(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    first = token_pair(client, tenant, member.username)
    second = token_pair(client, tenant, member.username)

    response = client.delete(tenant_path(tenant, "/users/me/sessions"), headers=bearer(first))

    assert response.status_code == 204
    for pair in (first, second):
        assert me(client, tenant, bearer(pair)).status_code == 401
        assert refresh(client, tenant, pair["refresh_token"]).status_code == 401
    fresh = token_pair(client, tenant, member.username)
    assert me(client, tenant, bearer(fresh)).status_code == 200


def test_a_password_change_ends_access_tokens_at_once(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    pair = token_pair(client, tenant, member.username)

    changed = client.post(
        tenant_path(tenant, "/users/me/password"),
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(pair),
    )

    assert changed.status_code == 204
    assert me(client, tenant, bearer(pair)).status_code == 401
    assert me(
        client, tenant, bearer(token_pair(client, tenant, member.username, NEW_PASSWORD))
    ).is_success


def test_deactivation_by_an_admin_ends_every_login_at_once(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    admin = user(role=Role.admin)
    member = user()
    pair = token_pair(client, tenant, member.username)

    response = client.patch(
        tenant_path(tenant, f"/users/{member.id}"),
        json={"is_active": False},
        headers=auth_headers(admin),
    )
    assert response.status_code == 200
    client.patch(
        tenant_path(tenant, f"/users/{member.id}"),
        json={"is_active": True},
        headers=auth_headers(admin),
    )

    # Reactivated, the old tokens still do not come back.
    assert me(client, tenant, bearer(pair)).status_code == 401
    assert refresh(client, tenant, pair["refresh_token"]).status_code == 401


def test_checking_the_generation_costs_no_extra_query(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    queries: QueryCounter,
) -> None:
    member = user()
    headers = auth_headers(member)
    me(client, tenant, headers)

    with queries:
        assert me(client, tenant, headers).status_code == 200

    # The user's row, as before; PostgreSQL adds only the binding of the blog (RLS).
    reads = [q for q in queries.statements if "set_config" not in q]
    assert len(reads) == 1, queries.statements
    assert "FROM users" in reads[0]


# --- the refresh token in a cookie ---------------------------------------------------------


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A client on HTTPS, as a browser must be to send ``Secure`` cookies back."""
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def cookie_login(browser: TestClient, tenant: Tenant, login: str) -> httpx.Response:
    response = browser.post(
        tenant_path(tenant, "/auth/token?refresh_in=cookie"),
        data={"username": login, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200, response.text
    return response


def test_a_cookie_login_keeps_the_refresh_token_out_of_reach_of_scripts(
    browser: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()

    response = cookie_login(browser, tenant, member.username)

    body = response.json()
    assert body["refresh_token"] is None
    assert body["csrf_token"]
    cookies = response.headers.get_list("set-cookie")
    refresh_cookie = next(c for c in cookies if c.startswith("blog_refresh="))
    attributes = {part.strip().lower() for part in refresh_cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict"} <= attributes
    assert f"path=/api/v1/tenants/{tenant.slug}/auth" in attributes
    csrf_cookie = next(c for c in cookies if c.startswith(f"blog_csrf_{tenant.slug}="))
    assert "httponly" not in csrf_cookie.lower()
    assert body["csrf_token"] in csrf_cookie


def test_refreshing_with_the_cookie_needs_the_csrf_header(
    browser: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    csrf = cookie_login(browser, tenant, member.username).json()["csrf_token"]
    path = tenant_path(tenant, "/auth/refresh")

    without = browser.post(path)
    forged = browser.post(path, headers={"X-CSRF-Token": "guessed"})
    allowed = browser.post(path, headers={"X-CSRF-Token": csrf})

    assert (without.status_code, without.json()["code"]) == (403, "csrf_rejected")
    assert forged.status_code == 403
    assert allowed.status_code == 200, allowed.text
    renewed = allowed.json()
    assert renewed["refresh_token"] is None
    assert renewed["csrf_token"] != csrf  # rotated with the refresh token
    assert me(browser, tenant, bearer(renewed)).status_code == 200
    # The old CSRF token no longer matches the rotated cookie.
    assert browser.post(path, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert browser.post(path, headers={"X-CSRF-Token": renewed["csrf_token"]}).status_code == 200


def test_logging_out_with_the_cookie_ends_the_login_and_clears_the_cookies(
    browser: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    login = cookie_login(browser, tenant, member.username)
    stolen = login.cookies["blog_refresh"]
    csrf = login.json()["csrf_token"]

    response = browser.post(tenant_path(tenant, "/auth/logout"), headers={"X-CSRF-Token": csrf})

    assert response.status_code == 204
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith('blog_refresh=""') or "max-age=0" in c.lower() for c in cleared)
    assert refresh(browser, tenant, stolen).status_code == 401


def test_a_body_refresh_token_still_works_without_any_csrf_token(
    client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    member = user()
    pair = token_pair(client, tenant, member.username)

    assert refresh(client, tenant, pair["refresh_token"]).status_code == 200


# --- nothing secret in any answer ----------------------------------------------------------


def test_no_answer_of_a_flow_holds_a_token_hash_or_code(
    client: TestClient, tenant: Tenant, user: MakeUser, mail_server: MailServer, db: Session
) -> None:
    member = user()
    answers = [forgot(client, tenant, member.email)]
    token = token_in(mail_server.wait_for(member.email)[0])
    answers.append(
        post_token(client, tenant, "/auth/password/reset", token=token, new_password=NEW_PASSWORD)
    )
    pair = token_pair(client, tenant, member.username, NEW_PASSWORD)
    answers.append(me(client, tenant, bearer(pair)))
    answers.append(client.get(tenant_path(tenant, "/users/me/sessions"), headers=bearer(pair)))

    hashes = list(db.exec(select(AccountToken.token_hash)).all())
    for answer in answers:
        for secret in (token, *hashes, member.hashed_password):
            assert secret not in answer.text
        assert not re.search(r"\$2[aby]\$", answer.text)  # no bcrypt hash


def test_users_made_by_factories_are_verified_unless_told() -> None:
    assert UserFactory.build().email_verified_at is not None
    assert UserFactory.build(email_verified_at=None).email_verified_at is None


def test_an_allowed_origin_may_refresh_with_the_cookie_and_no_other_may(
    client: TestClient, tenant: Tenant
) -> None:
    """The CORS preflight of a cookie refresh: credentials and the CSRF header, for the
    configured origin only (the test settings allow http://localhost:5173)."""
    path = tenant_path(tenant, "/auth/refresh")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-csrf-token",
    }

    allowed = client.options(path, headers={"Origin": "http://localhost:5173", **preflight})
    other = client.options(path, headers={"Origin": "https://evil.example", **preflight})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


# --- the RealWorld API keeps the same account rules ----------------------------------------


def test_realworld_password_change_answers_a_new_token_and_ends_the_old(
    api: Conduit, user: MakeUser
) -> None:
    member = user()
    old = api.token(member)

    response = api.put("/user", old, {"user": {"password": NEW_PASSWORD}})

    assert response.status_code == 200, response.text
    new = response.json()["user"]["token"]
    assert new != old
    assert api.get("/user", old).status_code == 401
    assert api.get("/user", new).status_code == 200


def test_realworld_email_change_is_at_once_unverified_and_told_to_both_addresses(
    api: Conduit,
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    mail_server: MailServer,
) -> None:
    """RealWorld's PUT /user sets the address itself (its clients expect it): the change
    is made, the address counts as unproven, the old one is told, the new one verified."""
    member = user(email="jake@jake.jake")

    response = api.put("/user", member, {"user": {"email": "Jacob@jake.jake"}})

    assert response.json()["user"]["email"] == "jacob@jake.jake"
    assert me(client, tenant, auth_headers(member)).json()["email_verified"] is False
    (notice,) = mail_server.wait_for("jake@jake.jake")
    assert "jacob@jake.jake" in text_of(notice)
    (verification,) = mail_server.wait_for("jacob@jake.jake")
    token = token_in(verification)
    assert post_token(client, tenant, "/auth/verify-email", token=token).status_code == 204
    assert me(client, tenant, auth_headers(member)).json()["email_verified"] is True


def test_realworld_writers_need_a_proven_address_where_the_blog_requires_it(
    api: Conduit, client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    require_verification(client, tenant, auth_headers(user(role=Role.owner)))
    writer = user(email_verified_at=None)
    article = api.create_article(user())
    assert article.status_code == 201, article.text
    slug = article.json()["article"]["slug"]

    refused_article = api.create_article(writer)
    refused_comment = api.post(f"/articles/{slug}/comments", writer, {"comment": {"body": "hi"}})

    assert (refused_article.status_code, refused_comment.status_code) == (403, 403)
    assert api.get(f"/articles/{slug}", writer).status_code == 200


def test_a_realworld_login_counts_towards_the_lockout(
    api: Conduit, client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders
) -> None:
    lock_after(client, tenant, auth_headers(user(role=Role.owner)), 2)
    member = user(email="jake@jake.jake")

    misses = [api.login("jake@jake.jake", "wrong-password").status_code for _ in range(2)]
    locked = api.login("jake@jake.jake", DEFAULT_PASSWORD)

    assert misses == [401, 401]
    assert locked.status_code == 429
    assert "Retry-After" in locked.headers
    assert attempt(client, tenant, member.username, DEFAULT_PASSWORD).status_code == 429
