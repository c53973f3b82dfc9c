"""Structured logs and request ids: one line per request, with the id the response
carries; the same id on every line the request logs; no secret in any line."""

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from blog.keys.models import KeyKind, Scope
from blog.observability import request_id
from blog.observability.context import running_job
from blog.observability.logs import (
    ConsoleFormatter,
    JsonFormatter,
    RequestIdFilter,
    configure_logging,
    logging_config,
)
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.factories import ApiKeyFactory, plain_key
from blog.testing.logscan import LogScan, find_secrets
from blog.users.models import Role, User
from tests.cli import Blog
from tests.conftest import serving, tenant_path
from tests.factories import DEFAULT_PASSWORD, PostFactory

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
REQUEST_FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "tenant",
    "user_id",
    "client",
}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class Lines:
    """What the app logs, through a handler made as the production one is."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RequestIdFilter())

    def text(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text()]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger"] == "blog.requests"]

    def request(self) -> dict[str, Any]:
        (line,) = self.requests()
        return line


def _capture(formatter: logging.Formatter) -> Iterator[Lines]:
    lines = Lines(formatter)
    blog = logging.getLogger("blog")
    blog.addHandler(lines.handler)
    try:
        yield lines
    finally:
        blog.removeHandler(lines.handler)


def explode() -> None:
    raise RuntimeError("boom")


def chatty(request: Request) -> dict[str, str]:
    """Logs a line of its own (in a worker thread, as every sync route)."""
    request.app.state.seen.append(request_id())
    logging.getLogger("blog.test").warning("something to say")
    return {}


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """With a route that fails and one that logs, added before the app starts."""
    app.add_api_route("/explode", explode)
    app.add_api_route("/chatty", chatty)
    app.state.seen = []
    return app


@pytest.fixture
def logs(client: TestClient) -> Iterator[Lines]:
    """The JSON lines of the app (the client is up: its startup is not in them)."""
    yield from _capture(JsonFormatter())


@pytest.fixture
def console_logs(client: TestClient) -> Iterator[Lines]:
    yield from _capture(ConsoleFormatter())


# --- one line per request ---------------------------------------------------------------


def test_a_request_logs_one_json_line_with_every_field(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, logs: Lines
) -> None:
    caller = user()

    response = client.get(tenant_path(tenant, "/users/me"), headers=auth_headers(caller))

    assert response.status_code == 200
    line = logs.request()
    assert set(line) == REQUEST_FIELDS
    assert line["level"] == "info"
    assert line["message"] == "request"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/tenants/{tenant}/users/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["tenant"] == tenant.slug
    assert line["user_id"] == str(caller.id)
    assert line["client"] == "testclient"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_the_route_is_the_template_not_the_path(
    client: TestClient, tenant: Tenant, user: MakeUser, logs: Lines
) -> None:
    post = PostFactory(author=user())

    client.get(tenant_path(tenant, f"/posts/{post.id}"))

    line = logs.request()
    assert line["route"] == "/api/v1/tenants/{tenant}/posts/{post_id}"
    assert str(post.id) not in json.dumps(line)
    assert line["user_id"] is None


def test_an_admin_key_logs_the_member_it_acts_as(
    client: TestClient, tenant: Tenant, user: MakeUser, logs: Lines
) -> None:
    admin = user(role=Role.admin)
    key = plain_key(ApiKeyFactory(creator=admin, kind=KeyKind.admin, scopes=[Scope.posts_read]))

    response = client.get(tenant_path(tenant, "/posts"), headers={"X-API-Key": key})

    assert response.status_code == 200
    assert logs.request()["user_id"] == str(admin.id)
    assert key not in logs.stream.getvalue()


def test_a_realworld_route_names_its_mount(client: TestClient, tenant: Tenant, logs: Lines) -> None:
    client.get(f"/conduit/{tenant.slug}/api/articles")

    line = logs.request()
    assert line["route"] == "/conduit/{tenant}/api/articles"
    assert line["tenant"] == tenant.slug


def test_an_unmatched_path_logs_no_route(client: TestClient, tenant: Tenant, logs: Lines) -> None:
    client.get("/no/such/thing")
    client.get(f"/conduit/{tenant.slug}/api/no-such-thing")

    assert [(line["route"], line["status"]) for line in logs.requests()] == [
        (None, 404),
        (None, 404),
    ]


def test_a_cached_answer_logs_the_route_that_made_it(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    logs: Lines,
) -> None:
    reader = user()
    PostFactory(author=reader, title="Cached")
    answers = [
        client.get(tenant_path(tenant, "/posts"), headers=headers)
        for headers in ({}, auth_headers(reader))
        for _ in range(3)
    ]

    caches = [answer.headers["x-cache"] for answer in answers]
    assert caches == ["miss", "miss", "hit", "shared", "shared", "shared"]
    lines = logs.requests()
    assert [line["request_id"] for line in lines] == [a.headers["x-request-id"] for a in answers]
    assert {line["route"] for line in lines} == {"/api/v1/tenants/{tenant}/posts"}
    assert {line["tenant"] for line in lines} == {tenant.slug}
    assert [line["user_id"] for line in lines] == [None] * 3 + [str(reader.id)] * 3


def test_a_whole_cached_answer_to_a_token_logs_its_caller(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, logs: Lines
) -> None:
    reader = user()
    headers = auth_headers(reader)
    caches = [
        client.get(tenant_path(tenant, "/users/me"), headers=headers).headers["x-cache"]
        for _ in range(3)
    ]

    assert caches[-1] == "hit"
    assert [line["user_id"] for line in logs.requests()] == [str(reader.id)] * 3


def test_a_server_error_logs_at_error_with_the_id(app: FastAPI, logs: Lines) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")

    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    lines = [line for line in logs.all() if line["request_id"] == rid]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("blog.errors", "error"),
        ("blog.requests", "error"),
    ]
    assert "RuntimeError: boom" in lines[0]["exception"]
    assert lines[1]["status"] == 500
    assert lines[1]["route"] == "/explode"


def test_every_line_of_a_request_carries_its_id_and_no_other(
    app: FastAPI, client: TestClient, logs: Lines
) -> None:
    first = client.get("/chatty").headers["x-request-id"]
    second = client.get("/chatty").headers["x-request-id"]

    assert app.state.seen == [first, second]
    assert [(line["logger"], line["request_id"]) for line in logs.all()] == [
        ("blog.test", first),
        ("blog.requests", first),
        ("blog.test", second),
        ("blog.requests", second),
    ]
    assert request_id() is None  # outside a request


def test_the_client_address_is_the_forwarded_one_from_a_trusted_proxy(app: FastAPI) -> None:
    """As ``blog serve`` runs uvicorn by default: proxy headers from loopback believed."""
    with serving(app) as url:
        lines = Lines(JsonFormatter())
        logging.getLogger("blog").addHandler(lines.handler)
        try:
            httpx.get(f"{url}/health", headers={"X-Forwarded-For": "203.0.113.7"})
            httpx.get(f"{url}/health")
        finally:
            logging.getLogger("blog").removeHandler(lines.handler)

    assert [line["client"] for line in lines.requests()] == ["203.0.113.7", "127.0.0.1"]


# --- request ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    ["abc", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "lb:1.2.3.4_x-y", "x" * 128],
)
def test_a_well_formed_request_id_is_kept(client: TestClient, logs: Lines, sent: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent
    assert logs.request()["request_id"] == sent


@pytest.mark.parametrize(
    "sent", ["", "x" * 129, "has space", "semi;colon", 'quote"', "new\\nline", "ünï"]
)
def test_a_malformed_request_id_is_replaced(client: TestClient, logs: Lines, sent: str) -> None:
    response = client.get("/health", headers={b"X-Request-ID": sent.encode()})

    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])
    assert logs.request()["request_id"] == response.headers["x-request-id"]


def test_without_one_each_request_gets_a_new_id(client: TestClient) -> None:
    ids = {client.get("/health").headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3
    assert all(GENERATED_ID.fullmatch(rid) for rid in ids)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": 1000})


def test_every_kind_of_answer_carries_the_id(
    client: TestClient, tenant: Tenant, user: MakeUser, logs: Lines
) -> None:
    posts = tenant_path(tenant, "/posts")
    origin = "http://localhost:5173"
    answers = {
        "not found": client.get("/api/v1/tenants/no-such-blog/posts"),
        "unauthorized": client.post(posts, json={}),
        "invalid": client.post(tenant_path(tenant, "/auth/token"), data={}),
        "too large": client.post(posts, content=b"x" * 2000),
        "too large (realworld)": client.post(
            f"/conduit/{tenant.slug}/api/articles", content=b"x" * 2000
        ),
        "preflight": client.options(
            posts, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        ),
        "realworld": client.get(f"/conduit/{tenant.slug}/api/tags"),
        "docs": client.get("/openapi.json"),
    }

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "not found": 404,
        "unauthorized": 401,
        "invalid": 422,
        "too large": 413,
        "too large (realworld)": 413,
        "preflight": 200,
        "realworld": 200,
        "docs": 200,
    }
    ids = [answer.headers.get("x-request-id") for answer in answers.values()]
    assert [line["request_id"] for line in logs.requests()] == ids
    assert all(GENERATED_ID.fullmatch(str(rid)) for rid in ids)


def test_browsers_may_read_the_id(client: TestClient, tenant: Tenant) -> None:
    response = client.get(
        tenant_path(tenant, "/posts"), headers={"Origin": "http://localhost:5173"}
    )

    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert "x-request-id" in exposed


# --- formats ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "log_format", "formatter"),
    [
        ("development", None, ConsoleFormatter),
        ("test", None, ConsoleFormatter),
        ("production", None, JsonFormatter),
        ("production", "console", ConsoleFormatter),
        ("development", "json", JsonFormatter),
    ],
)
def test_json_in_production_readable_lines_elsewhere(
    environment: str, log_format: str | None, formatter: type[logging.Formatter]
) -> None:
    settings = Settings(
        _env_file=None,
        environment=environment,  # type: ignore[arg-type]
        secret_key="x" * 40,  # type: ignore[arg-type]
        log_format=log_format,  # type: ignore[arg-type]
    )

    config = logging_config(settings)

    assert config["formatters"]["default"]["()"].endswith(f".{formatter.__name__}")


def test_a_readable_line_says_what_the_json_says(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
    console_logs: Lines,
) -> None:
    caller = user()

    response = client.get(tenant_path(tenant, "/users/me"), headers=auth_headers(caller))

    (line,) = console_logs.text()
    rid = response.headers["x-request-id"]
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} INFO    GET /api/v1/tenants/\{tenant\}/users/me 200 "
        rf"\d+\.\dms tenant={tenant.slug} user_id={caller.id} client=testclient \[{rid}\]",
        line,
    ), line


def test_the_worker_logs_the_same_way_and_labels_job_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None, log_format="json")
    loggers = [logging.getLogger(name) for name in logging_config(settings)["loggers"]]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    try:
        configure_logging(settings)
        runner = logging.getLogger("blog.jobs.runner")
        with running_job(job_id="j1", tenant_id="t1"):
            runner.warning("webhook failed")
        runner.info("sweep")
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate

    lines = [json.loads(line) | {"time": None} for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        {
            "time": None,
            "level": "warning",
            "logger": "blog.jobs.runner",
            "message": "webhook failed",
            "request_id": None,
            "job_id": "j1",
            "tenant_id": "t1",
        },
        {
            "time": None,
            "level": "info",
            "logger": "blog.jobs.runner",
            "message": "sweep",
            "request_id": None,
        },
    ]


# --- no secrets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        "hash $2b$04$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRS",
        "key blog_ak_AbCdEfGhIjKl-rest-of-it",
        "secret whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        "headers: Cookie: blog_refresh=abc",
        "Set-Cookie: session=abc; HttpOnly",
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
        "the refresh token was Zm9vYmFyYmF6cXV4LXJhbmRvbQ in a message",
        f'{{"message": "login with {DEFAULT_PASSWORD}"}}',
        "reset code tok-123-456-789 used",
    ],
)
def test_the_scanner_finds_a_secret_in_a_line(line: str) -> None:
    known = {"Zm9vYmFyYmF6cXV4LXJhbmRvbQ", DEFAULT_PASSWORD, "tok-123-456-789"}

    assert [finding.line for finding in find_secrets([("blog.x", line)], known)] == [line]


@pytest.mark.parametrize(
    "line",
    [
        "request GET /api/v1/tenants/{tenant}/auth/token 200",
        "integrity error answered as 409: IntegrityError",
        "the refresh token was Zm9vYmFyYmF6cXV4LXJhbmRvbQx: a longer word is not the secret",
        "job 6b0c7d4e-… (tenant acme) failed (Timeout), attempt 1 of 5",
    ],
)
def test_the_scanner_lets_an_ordinary_line_pass(line: str) -> None:
    assert find_secrets([("blog.x", line)], {"Zm9vYmFyYmF6cXV4LXJhbmRvbQ"}) == []


def test_the_scanner_spares_the_mail_that_is_meant_to_show_its_link() -> None:
    line = "mail (console backend; not sent): https://x/reset?token=Zm9vYmFyYmF6cXV4"

    assert find_secrets([("blog.mail", line)], {"Zm9vYmFyYmF6cXV4"}) == []
    assert len(find_secrets([("blog.other", line)], {"Zm9vYmFyYmF6cXV4"})) == 1


def test_a_code_the_console_mail_shows_is_a_secret_elsewhere() -> None:
    scan = LogScan()
    mail = "mail (console backend; not sent): https://x/reset?token=c0de%2B1234567&x=1"
    scan.lines += [("blog.mail", mail), ("blog.auth", "reset with c0de+1234567 failed")]

    assert [finding.logger for finding in scan.findings()] == ["blog.auth"]


def test_the_codes_of_mailed_links_are_secrets() -> None:
    scan = LogScan()
    mail = EmailMessage()
    mail.set_content("Reset: https://acme.example/reset?token=mailed-code-123456\n")
    unlinked = EmailMessage()
    unlinked.set_content("Your email address changed.\n")

    scan.add_mailed([mail, unlinked])

    assert scan.secrets == {"mailed-code-123456"}


def test_the_run_harvests_the_secrets_of_requests_and_responses() -> None:
    scan = LogScan()
    request = httpx.Request(
        "POST",
        "http://x/auth/password/reset",
        json={"token": "reset-code-1234567", "new_password": "a new pass phrase"},
        headers={
            "Authorization": "Bearer the-access-token-xyz",
            "Cookie": "blog_csrf=csrf12345678",
        },
    )
    response = httpx.Response(
        200,
        json={
            "access_token": "eyJ-access-token",
            "refresh_token": "refresh-1234567890",
            "id": "id-12345678",
        },
        headers={"Set-Cookie": "blog_refresh=refresh-cookie-123; HttpOnly"},
    )

    scan.on_request(request)
    scan.on_response(response)

    assert scan.secrets == {
        "reset-code-1234567",
        "a new pass phrase",
        "the-access-token-xyz",
        "csrf12345678",
        "refresh-1234567890",
        "refresh-cookie-123",
        "eyJ-access-token",
    }


def test_the_logs_of_logins_and_refreshes_hold_no_secret(
    client: TestClient, tenant: Tenant, user: MakeUser, log_scan: LogScan, logs: Lines
) -> None:
    """The run-wide scan sees this test's lines too; here it is shown to have seen them."""
    member = user()
    pair = client.post(
        tenant_path(tenant, "/auth/token"),
        data={"username": member.email, "password": DEFAULT_PASSWORD},
    ).json()
    refreshed = client.post(
        tenant_path(tenant, "/auth/refresh"), json={"refresh_token": pair["refresh_token"]}
    )

    assert refreshed.status_code == 200, refreshed.text
    new_pair = refreshed.json()
    assert {
        pair["access_token"],
        pair["refresh_token"],
        new_pair["refresh_token"],
        DEFAULT_PASSWORD,
    } <= log_scan.secrets
    assert len(logs.requests()) == 2
    assert find_secrets([("blog.requests", line) for line in logs.text()], log_scan.secrets) == []


# --- blog serve -------------------------------------------------------------------------


@pytest.mark.usefixtures("cli_settings")
def test_serve_logs_through_one_configuration_and_trusts_the_proxies_it_is_told(
    blog: Blog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLOG_ENVIRONMENT", "production")
    monkeypatch.setenv("BLOG_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("BLOG_FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *_, **options: served.update(options))

    result = blog("serve")

    assert result.exit_code == 0, result.output
    assert served["access_log"] is False  # blog.requests logs each request instead
    assert served["log_config"]["formatters"]["default"]["()"].endswith(".JsonFormatter")
    assert served["proxy_headers"] is True
    assert served["forwarded_allow_ips"] == "10.0.0.0/8"


@pytest.mark.usefixtures("cli_settings")
def test_serve_can_trust_no_proxy(blog: Blog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_FORWARDED_ALLOW_IPS", "")
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *_, **options: served.update(options))

    assert blog("serve").exit_code == 0
    assert served["proxy_headers"] is False
    assert served["log_config"]["formatters"]["default"]["()"].endswith(".ConsoleFormatter")
