"""Abuse limits: rate limits shared by worker processes, body size, bounded hashing, headers."""

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from blog.app import create_app
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.conftest import free_port, serving, tenant_path
from tests.factories import DEFAULT_PASSWORD
from tests.problems import assert_problem, problem_body

MakeUser = Callable[..., User]


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "login_attempts_per_minute": 3,
            "auth_requests_per_minute_per_address": 6,
            "signups_per_hour_per_address": 2,
            "max_body_bytes": 2_000,
        }
    )


@pytest.fixture
def strict_client(strict_settings: Settings, engine: object) -> Iterator[TestClient]:
    with TestClient(create_app(strict_settings, engine=engine)) as client:  # type: ignore[arg-type]
        yield client


def login(client: TestClient, tenant: Tenant, username: str, password: str) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/auth/token"), data={"username": username, "password": password}
    )


def assert_rate_limited(response: httpx.Response, window_seconds: int = 60) -> None:
    assert_problem(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= window_seconds


def test_login_attempts_are_limited_per_account(
    strict_client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    target, bystander = user(), user()

    statuses = [
        login(strict_client, tenant, target.username, "wrong").status_code for _ in range(3)
    ]
    blocked = login(strict_client, tenant, target.username, DEFAULT_PASSWORD)

    assert statuses == [401, 401, 401]
    assert_rate_limited(blocked)
    assert login(strict_client, tenant, bystander.username, DEFAULT_PASSWORD).status_code == 200


def test_unknown_accounts_are_limited_too(strict_client: TestClient, tenant: Tenant) -> None:
    for _ in range(3):
        assert login(strict_client, tenant, "ghost", "whatever").status_code == 401

    assert_rate_limited(login(strict_client, tenant, "GHOST", "whatever"))


def test_auth_requests_are_limited_per_address(
    strict_client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    accounts = [user() for _ in range(4)]

    statuses = [
        login(strict_client, tenant, account.username, "wrong").status_code
        for account in accounts
        for _ in range(2)
    ]

    assert statuses[:6] == [401] * 6
    assert statuses[6:] == [429, 429]


def test_refresh_attempts_are_limited(strict_client: TestClient, tenant: Tenant) -> None:
    statuses = [
        strict_client.post(
            tenant_path(tenant, "/auth/refresh"), json={"refresh_token": "stolen-guess"}
        ).status_code
        for _ in range(4)
    ]

    assert statuses == [401, 401, 401, 429]


def test_registrations_are_limited_per_address(strict_client: TestClient, tenant: Tenant) -> None:
    def register(n: int) -> httpx.Response:
        return strict_client.post(
            tenant_path(tenant, "/auth/register"),
            json={"email": f"u{n}@example.com", "username": f"u{n}", "password": "long-enough"},
        )

    assert [register(n).status_code for n in range(2)] == [201, 201]
    assert_rate_limited(register(3), window_seconds=3600)


def test_tenant_sign_ups_are_limited_per_address(strict_client: TestClient) -> None:
    def sign_up(n: int) -> httpx.Response:
        owner = {"email": f"o{n}@example.com", "username": f"o{n}", "password": "long-enough"}
        return strict_client.post(
            "/api/v1/tenants", json={"slug": f"blog-x{n}", "name": "X", "owner": owner}
        )

    assert [sign_up(n).status_code for n in range(2)] == [201, 201]
    assert_rate_limited(sign_up(3), window_seconds=3600)


def test_login_limit_holds_across_server_processes(
    settings: Settings, tenant: Tenant, user: MakeUser
) -> None:
    """Two server processes on one database, requests alternating: the count is shared."""
    target = user()
    env = {
        **os.environ,
        "BLOG_DATABASE_URL": settings.database_url,
        "BLOG_SECRET_KEY": settings.secret_key.get_secret_value(),
        "BLOG_BCRYPT_ROUNDS": "4",
        "BLOG_LOGIN_ATTEMPTS_PER_MINUTE": "5",
        "BLOG_ENVIRONMENT": "test",
    }
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "blog", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_until_serving(base)
        responses = [
            httpx.post(
                bases[attempt % 2] + tenant_path(tenant, "/auth/token"),
                data={"username": target.username, "password": "wrong"},
                timeout=10,
            )
            for attempt in range(8)
        ]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=15)

    assert [r.status_code for r in responses] == [401] * 5 + [429] * 3
    assert all("server" not in {name.lower() for name in r.headers} for r in responses)


def wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"server at {base} did not start")


def test_body_over_the_limit_is_413(strict_client: TestClient, tenant: Tenant) -> None:
    big = {"email": "a@example.com", "username": "a", "password": "x" * 3_000}

    response = strict_client.post(tenant_path(tenant, "/auth/register"), json=big)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_body(response) == {
        "type": "/problems/payload_too_large",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request body is too large.",
        "code": "payload_too_large",
    }


def test_a_realworld_body_over_the_limit_is_413_in_its_own_shape(
    strict_client: TestClient, tenant: Tenant
) -> None:
    big = {"user": {"email": "a@example.com", "username": "a", "password": "x" * 3_000}}

    response = strict_client.post(f"/conduit/{tenant.slug}/api/users", json=big)

    assert response.status_code == 413
    assert response.json() == {"errors": {"body": ["is too large"]}}


def test_streamed_body_over_the_limit_is_413(strict_client: TestClient, tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b'{"padding": "' + b"x" * 500 + b'"}'

    response = strict_client.post(
        tenant_path(tenant, "/auth/register"),
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_security_headers_on_success_and_error(client: TestClient, tenant: Tenant) -> None:
    for response in (client.get(tenant_path(tenant)), client.get("/api/v1/tenants/missing")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Content-Security-Policy" not in client.get("/docs").headers


def test_password_hashing_is_bounded_and_reads_keep_flowing(
    app: FastAPI, tenant: Tenant, user: MakeUser
) -> None:
    """A login flood holds at most a few hashes at once; a read is served meanwhile."""
    accounts = [user() for _ in range(8)]
    hasher = app.state.auth.hasher
    release = threading.Event()
    inside, peak = 0, 0
    lock = threading.Lock()
    real_verify = hasher.verify

    def slow_verify(password: str, hashed: str | None) -> bool:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        release.wait(timeout=20)
        with lock:
            inside -= 1
        return bool(real_verify(password, hashed))

    hasher.verify = slow_verify
    with serving(app) as base:

        def flood(account: User) -> None:
            httpx.post(
                f"{base}{tenant_path(tenant, '/auth/token')}",
                data={"username": account.username, "password": DEFAULT_PASSWORD},
                timeout=30,
            )

        threads = [threading.Thread(target=flood, args=(a,)) for a in accounts]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while peak < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # give any unbounded extra logins time to pile in

        read = httpx.get(f"{base}{tenant_path(tenant, '/posts')}", timeout=5)
        in_flight_during_read = inside

        release.set()
        for thread in threads:
            thread.join(timeout=30)

    slots = max(2, os.cpu_count() or 2)
    assert read.status_code == 200
    assert in_flight_during_read == peak == min(slots, len(accounts))
