"""GET /metrics: what it counts, who may read it, and that several workers add up."""

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from blog.app import create_app
from blog.database import create_db_engine
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.conduit import conduit_path
from tests.conftest import free_port, tenant_path
from tests.factories import DEFAULT_PASSWORD, PostFactory
from tests.problems import masked

MakeUser = Callable[..., User]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
LOOPBACK = ("127.0.0.1", 40000)
TOKEN = "metrics-token-for-the-tests-0123456789"

POSTS = "/api/v1/tenants/{tenant}/posts"
POST_BY_SLUG = "/api/v1/tenants/{tenant}/posts/by-slug/{slug}"
ARTICLES = "/conduit/{tenant}/api/articles"
DURATION = "blog_http_request_duration_seconds"


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Metrics:
    """Reads /metrics as Prometheus does, from loopback; ``value(name, **labels)`` is the
    sum over the samples with those labels (0 when there is none)."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, client=LOOPBACK)
        self.samples: Samples = {}

    def scrape(self) -> "Metrics":
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        self.samples = parse(response.text)
        return self

    def value(self, name: str, **labels: str) -> float:
        wanted = set(labels.items())
        return sum(v for (n, got), v in self.samples.items() if n == name and wanted <= got)

    def requests(self, route: str, **labels: str) -> float:
        return self.value(f"{DURATION}_count", route=route, **labels)


@pytest.fixture
def metrics(app: FastAPI) -> Metrics:
    return Metrics(app)


def changes(metrics: Metrics, act: Callable[[], Any], *reads: Callable[[], float]) -> list[float]:
    """How much each of ``reads`` moved while ``act`` ran (metrics are process-wide)."""
    metrics.scrape()
    before = [read() for read in reads]
    act()
    metrics.scrape()
    return [read() - was for read, was in zip(reads, before, strict=True)]


def test_requests_are_counted_and_timed_by_route_template(
    client: TestClient, metrics: Metrics, tenant: Tenant, user: MakeUser
) -> None:
    post = PostFactory(author=user(), slug="hello-metrics")

    def act() -> None:
        assert client.get(tenant_path(tenant, "/posts/by-slug/hello-metrics")).status_code == 200
        assert client.get(tenant_path(tenant, "/posts/by-slug/nothing-here")).status_code == 404
        assert client.get(tenant_path(tenant, f"/posts/{post.id}")).status_code == 200

    found, missing, by_id, slow_bucket, fast_bucket, total_time = changes(
        metrics,
        act,
        lambda: metrics.requests(POST_BY_SLUG, method="GET", status="200"),
        lambda: metrics.requests(POST_BY_SLUG, method="GET", status="404"),
        lambda: metrics.requests("/api/v1/tenants/{tenant}/posts/{post_id}", status="200"),
        lambda: metrics.value(f"{DURATION}_bucket", route=POST_BY_SLUG, le="+Inf"),
        lambda: metrics.value(f"{DURATION}_bucket", route=POST_BY_SLUG, le="0.0005"),
        lambda: metrics.value(f"{DURATION}_sum", route=POST_BY_SLUG),
    )

    assert (found, missing, by_id) == (1, 1, 1)
    assert slow_bucket == 2
    assert fast_bucket <= slow_bucket
    assert total_time > 0
    # Labels are templates: no slug, id or blog name ever becomes a series of its own.
    scraped = metrics.client.get("/metrics").text
    for concrete in ("hello-metrics", "nothing-here", str(post.id), tenant.slug):
        assert concrete not in scraped


def test_the_realworld_api_is_labelled_under_its_mount(
    client: TestClient, metrics: Metrics, tenant: Tenant
) -> None:
    (articles,) = changes(
        metrics,
        lambda: client.get(conduit_path(tenant, "/articles?limit=5")),
        lambda: metrics.requests(ARTICLES, method="GET", status="200"),
    )
    assert articles == 1


def test_unmatched_paths_share_one_label(
    client: TestClient, metrics: Metrics, tenant: Tenant
) -> None:
    def act() -> None:
        for path in ("/nothing/1", "/nothing/2", conduit_path(tenant, "/nothing")):
            assert client.get(path).status_code == 404

    (unmatched,) = changes(
        metrics, act, lambda: metrics.requests("<unmatched>", method="GET", status="404")
    )
    assert unmatched == 3
    assert not any("/nothing" in dict(labels).get("route", "") for _, labels in metrics.samples)


def test_answers_from_the_cache_count_under_their_route(
    client: TestClient, metrics: Metrics, tenant: Tenant, user: MakeUser
) -> None:
    PostFactory(author=user())
    url = tenant_path(tenant, "/posts")

    def act() -> None:
        # Stored on its second sighting, served from memory on the third.
        seen = [client.get(url).headers["x-cache"] for _ in range(3)]
        assert seen == ["miss", "miss", "hit"]

    hits, misses, routed = changes(
        metrics,
        act,
        lambda: metrics.value("blog_response_cache_requests_total", result="hit"),
        lambda: metrics.value("blog_response_cache_requests_total", result="miss"),
        lambda: metrics.requests(POSTS, method="GET", status="200"),
    )
    assert (hits, misses, routed) == (1, 2, 3)


def test_a_shared_answer_counts_as_shared(
    client: TestClient,
    metrics: Metrics,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: Callable[[User], dict[str, str]],
) -> None:
    PostFactory(author=user())
    reader = auth_headers(user())
    url = tenant_path(tenant, "/posts")
    client.get(url)
    client.get(url)  # stored

    def act() -> None:
        assert client.get(url, headers=reader).headers["x-cache"] == "shared"

    (shared,) = changes(
        metrics,
        act,
        lambda: metrics.value("blog_response_cache_requests_total", result="shared"),
    )
    assert shared == 1


def test_logins_count_by_api_and_result_never_by_account(
    client: TestClient, metrics: Metrics, tenant: Tenant, user: MakeUser
) -> None:
    ada = user(username="ada-metrics", email="ada-metrics@example.com")

    def native(password: str) -> int:
        return client.post(
            tenant_path(tenant, "/auth/token"),
            data={"username": ada.username, "password": password},
        ).status_code

    def realworld(password: str) -> int:
        return client.post(
            conduit_path(tenant, "/users/login"),
            json={"user": {"email": ada.email, "password": password}},
        ).status_code

    def act() -> None:
        assert [native(DEFAULT_PASSWORD), native("wrong"), native("wrong")] == [200, 401, 401]
        assert [realworld(DEFAULT_PASSWORD), realworld("wrong")] == [200, 401]
        # Not a login attempt: the form does not parse.
        assert client.post(tenant_path(tenant, "/auth/token"), data={}).status_code == 422

    moved = changes(
        metrics,
        act,
        *(
            (
                lambda api=api, result=result: metrics.value(
                    "blog_logins_total", api=api, result=result
                )
            )
            for api in ("native", "realworld")
            for result in ("success", "failure")
        ),
    )
    assert moved == [1, 2, 1, 1]
    scraped = metrics.client.get("/metrics").text
    assert "ada-metrics" not in scraped


def test_a_locked_account_counts_as_locked(
    client: TestClient, metrics: Metrics, tenant: Tenant, user: MakeUser
) -> None:
    ada = user()

    def act() -> None:
        statuses = [
            client.post(
                tenant_path(tenant, "/auth/token"),
                data={"username": ada.username, "password": "wrong"},
            ).status_code
            for _ in range(tenant.lockout_threshold + 1)
        ]
        assert statuses[-1] == 429

    (locked,) = changes(
        metrics, act, lambda: metrics.value("blog_logins_total", api="native", result="locked")
    )
    assert locked == 1


def test_rate_limit_refusals_count_by_limit(
    settings: Settings, engine: Engine, tenant: Tenant, user: MakeUser
) -> None:
    strict = settings.model_copy(update={"login_attempts_per_minute": 2})
    app = create_app(strict, engine=engine)
    client, metrics, target = TestClient(app), Metrics(app), user()

    def act() -> None:
        statuses = [
            client.post(
                tenant_path(tenant, "/auth/token"),
                data={"username": target.username, "password": "wrong"},
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [401, 401, 429]

    refused, failed = changes(
        metrics,
        act,
        lambda: metrics.value("blog_rate_limit_refusals_total", limit="login-account"),
        lambda: metrics.value("blog_logins_total", api="native", result="failure"),
    )
    app.state.background.close(5)
    assert (refused, failed) == (1, 2)  # the refused attempt never reached the password


def test_signup_refusals_are_labelled_by_the_limit_not_the_path(
    settings: Settings, engine: Engine, tenant: Tenant
) -> None:
    app = create_app(settings.model_copy(update={"signups_per_hour_per_address": 1}), engine=engine)
    client, metrics = TestClient(app), Metrics(app)

    def sign_up(n: int) -> int:
        return client.post(
            tenant_path(tenant, "/auth/register"),
            json={"email": f"s{n}@example.com", "username": f"s{n}", "password": "pass-word-1"},
        ).status_code

    def act() -> None:
        assert [sign_up(n) for n in range(2)] == [201, 429]

    (refused,) = changes(
        metrics,
        act,
        lambda: metrics.value("blog_rate_limit_refusals_total", limit="signup"),
    )
    app.state.background.close(5)
    assert refused == 1
    assert not any(
        n.startswith("blog_rate") and "/" in str(labels) for n, labels in metrics.samples
    )


def test_pool_usage_is_published(metrics: Metrics, engine: Engine) -> None:
    in_use = metrics.scrape().value("blog_db_pool_checked_out", pool="app")
    with engine.connect():
        assert metrics.scrape().value("blog_db_pool_checked_out", pool="app") == in_use + 1
    assert metrics.scrape().value("blog_db_pool_checked_out", pool="app") == in_use
    assert metrics.value("blog_db_pool_size", pool="app") >= 1


def test_metrics_are_not_in_the_api_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def scrape_from(app: FastAPI, address: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(app, client=(address, 40000)).get("/metrics", headers=headers).status_code


@pytest.fixture
def app_with(settings: Settings, engine: Engine) -> Iterator[Callable[..., FastAPI]]:
    made: list[FastAPI] = []

    def make(**changes: Any) -> FastAPI:
        made.append(create_app(settings.model_copy(update=changes), engine=engine))
        return made[-1]

    yield make
    for app in made:
        app.state.background.close(5)


def test_by_default_only_loopback_may_read_and_others_see_no_such_path(app: FastAPI) -> None:
    assert scrape_from(app, "127.0.0.1") == 200
    assert scrape_from(app, "::1") == 200
    assert scrape_from(app, "10.1.2.3") == 404
    assert scrape_from(app, "testclient") == 404  # not an address at all
    refused = TestClient(app, client=("10.1.2.3", 1)).get("/metrics")
    unknown = TestClient(app, client=("10.1.2.3", 1)).get("/no-such-path")
    assert masked(refused) == masked(unknown)


def test_with_a_token_only_its_bearer_may_read(
    app_with: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with(metrics_token=SecretStr(TOKEN))
    caplog.set_level(logging.DEBUG)

    assert scrape_from(app, "127.0.0.1") == 404
    assert scrape_from(app, "127.0.0.1", TOKEN[:-1] + "x") == 404
    assert scrape_from(app, "127.0.0.1", TOKEN) == 200
    assert scrape_from(app, "10.1.2.3", TOKEN) == 404  # the token does not widen the range
    assert TOKEN not in caplog.text


def test_an_allowed_range_with_a_token(app_with: Callable[..., FastAPI]) -> None:
    app = app_with(metrics_token=SecretStr(TOKEN), metrics_allow=[ip_network("10.0.0.0/8")])
    assert scrape_from(app, "10.1.2.3", TOKEN) == 200
    assert scrape_from(app, "127.0.0.1", TOKEN) == 404
    assert scrape_from(app, "192.168.1.1", TOKEN) == 404


def test_production_serves_metrics_only_with_a_token(app_with: Callable[..., FastAPI]) -> None:
    assert scrape_from(app_with(environment="production"), "127.0.0.1") == 404
    with_token = app_with(environment="production", metrics_token=SecretStr(TOKEN))
    assert scrape_from(with_token, "127.0.0.1") == 404
    assert scrape_from(with_token, "127.0.0.1", TOKEN) == 200


def test_the_settings_read_like_the_docs_say() -> None:
    settings = Settings(
        _env_file=None,
        metrics_allow="10.0.0.0/8, ::1/128",  # type: ignore[arg-type]
        metrics_token="",  # type: ignore[arg-type]
    )
    assert settings.metrics_allow == [ip_network("10.0.0.0/8"), ip_network("::1/128")]
    assert settings.metrics_token is None
    with pytest.raises(ValidationError, match="metrics_allow"):
        Settings(_env_file=None, metrics_allow="everyone")  # type: ignore[arg-type]


def test_several_workers_add_up_their_counts(
    database_backend: str, empty_database_url: str, tmp_path: Path
) -> None:
    """A real ``blog serve --workers 2``: whichever worker answers, a scrape (answered by
    either) sums them all; the workers' directory goes when the server stops."""
    if database_backend != "sqlite":
        pytest.skip("one database suffices: this is about the processes, not the database")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "PROMETHEUS_"))},
        "BLOG_DATABASE_URL": empty_database_url,
        "BLOG_ENVIRONMENT": "development",
        "BLOG_JOBS_URL": "memory://",
        "TMPDIR": str(tmp_path),  # where the workers' directory is made, to watch it
    }
    blog = [sys.executable, "-m", "blog"]
    subprocess.run([*blog, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [*blog, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(base)
        (directory,) = tmp_path.glob("blog-metrics-*")
        made = 0
        # New connections until both workers have answered some (the kernel picks).
        while made < 40 or len(list(directory.glob("histogram_*.db"))) < 2:
            assert made < 400, "one worker answered every request"
            with httpx.Client(base_url=base) as client:
                assert client.get("/health").status_code == 200
            made += 1
        scraped = parse(httpx.get(f"{base}/metrics", timeout=10).text)
        counted = sum(
            value
            for (name, labels), value in scraped.items()
            if name == f"{DURATION}_count" and {("route", "/health"), ("status", "200")} <= labels
        )
        assert counted == made + 1  # wait_until_serving's own successful request
        pool_size = scraped[("blog_db_pool_size", frozenset({("pool", "app")}))]
        assert pool_size == 2 * pool_size_of(empty_database_url)

        # A worker killed outright (it cannot clean up) is replaced: its connections
        # leave the gauges all the same, its counts stay.
        def pids(pattern: str) -> set[int]:
            return {int(f.stem.rsplit("_", 1)[1]) for f in directory.glob(pattern)}

        workers = pids("counter_*.db")
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 90
        while not pids("gauge_livesum_*.db") - workers:  # the replacement made its engine
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        deadline, seen = time.monotonic() + 10, 0.0
        while seen != pool_size:
            assert time.monotonic() < deadline, f"pool size {seen}, not {pool_size}"
            scraped = parse(httpx.get(f"{base}/metrics", timeout=10).text)
            seen = scraped[("blog_db_pool_size", frozenset({("pool", "app")}))]
            assert seen <= pool_size  # the dead worker's pool is not counted
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert not list(tmp_path.glob("blog-metrics-*"))


def pool_size_of(database_url: str) -> int:
    """What a worker's engine for ``database_url`` keeps open (made, never connected)."""
    engine = create_db_engine(database_url)
    assert isinstance(engine.pool, QueuePool)
    return engine.pool.size()


def wait_until_serving(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("server did not start")
