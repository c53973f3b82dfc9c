"""Graceful shutdown of a real ``blog serve``: on SIGTERM readiness answers 503 at once and
no new connection is taken, a request in flight finishes and commits, and one that outlives
BLOG_SHUTDOWN_SECONDS is cut and leaves nothing behind.

The request in flight is a new blog whose INSERT waits for a lock this test holds (SQLite's
write lock; on PostgreSQL a lock on the tenants table), released when the test says.
"""

import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url

from blog.settings import Settings
from blog.shutdown import ShutdownSignal
from tests.blog_serve import Server

SLUG = "slow-blog"
SIGN_UP = {
    "slug": SLUG,
    "name": "Slow blog",
    "owner": {"email": "owner@slow.example", "username": "owner", "password": "long-enough"},
}


@pytest.fixture
def serve(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[Callable[[int], Server]]:
    servers: list[Server] = []

    def start(shutdown_seconds: int) -> Server:
        log = tmp_path / f"serve{len(servers)}.log"
        servers.append(Server(settings, log, shutdown_seconds=shutdown_seconds))
        return servers[-1]

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture
def hold_lock(
    database_url: str, database_backend: str, owner_engine: Engine
) -> Iterator[Callable[[], Callable[[], None]]]:
    """``release = hold_lock()``: from now on a new blog's INSERT waits until ``release()``."""
    releases: list[Callable[[], None]] = []

    def hold() -> Callable[[], None]:
        if database_backend == "sqlite":
            connection = sqlite3.connect(
                make_url(database_url).database or "", isolation_level=None
            )
            connection.execute("BEGIN IMMEDIATE")
            releases.append(connection.close)  # rolls back
        else:
            owner = owner_engine.connect()
            owner.exec_driver_sql("LOCK TABLE tenants IN EXCLUSIVE MODE")  # reads still pass
            releases.append(owner.close)
        return releases[-1]

    yield hold
    for release in releases:
        release()


def sign_up_in_background(server: Server) -> "Future[httpx.Response]":
    pool = ThreadPoolExecutor(max_workers=1)
    request = pool.submit(httpx.post, f"{server.base}/api/v1/tenants", json=SIGN_UP, timeout=60)
    pool.shutdown(wait=False)
    time.sleep(1)  # the request reaches its INSERT and waits there
    assert not request.done(), "the request did not wait for the lock"
    return request


def blogs_named(owner_engine: Engine) -> int:
    with owner_engine.connect() as connection:
        count: int = connection.execute(
            sa.text("SELECT count(*) FROM tenants WHERE slug = :slug"), {"slug": SLUG}
        ).scalar_one()
        return count


def test_sigterm_lets_the_request_in_flight_finish_and_commit(
    serve: Callable[[int], Server],
    hold_lock: Callable[[], Callable[[], None]],
    owner_engine: Engine,
) -> None:
    server = serve(20)
    probe = httpx.Client(base_url=server.base)  # a load balancer's keep-alive connection
    assert probe.get("/health/ready").status_code == 200
    release = hold_lock()
    request = sign_up_in_background(server)

    signalled = server.terminate()
    try:
        ready: httpx.Response | httpx.TransportError = probe.get("/health/ready")
    except httpx.TransportError as closed:  # the server closed the idle connection first
        ready = closed
    time.sleep(0.3)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base}/health/ready", timeout=2)
    assert not request.done()
    release()
    response = request.result(timeout=30)
    exit_code = server.process.wait(timeout=30)
    stopped_in = time.monotonic() - signalled

    assert isinstance(ready, httpx.TransportError) or (
        ready.status_code == 503 and ready.json()["code"] == "shutting_down"
    ), ready
    assert response.status_code == 201, response.text
    assert blogs_named(owner_engine) == 1
    assert exit_code == 0, server.log.read_text()
    assert stopped_in < 20


def test_a_request_outliving_the_bound_is_cut_and_rolled_back(
    serve: Callable[[int], Server],
    hold_lock: Callable[[], Callable[[], None]],
    owner_engine: Engine,
) -> None:
    server = serve(1)
    release = hold_lock()
    request = sign_up_in_background(server)

    signalled = server.terminate()
    exit_code = server.process.wait(timeout=30)
    stopped_in = time.monotonic() - signalled
    release()  # nothing of the cut request may be left to go through now

    assert exit_code == 1, server.log.read_text()
    assert 1 <= stopped_in < 3  # at the bound, not when the lock's holder lets go
    with pytest.raises(httpx.TransportError):  # cut: no answer at all
        request.result(timeout=30)
    assert "stopping now" in server.log.read_text()
    assert blogs_named(owner_engine) == 0


def test_readiness_is_503_once_shutdown_began(client: TestClient) -> None:
    assert client.get("/health/ready").status_code == 200

    client.app.state.shutdown.set()  # type: ignore[attr-defined]

    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "shutting_down"
    assert response.json()["detail"] == "The server is shutting down."
    assert client.get("/health").status_code == 200  # alive, just not taking new work


def test_the_signal_is_noted_then_handed_to_the_server() -> None:
    """What happens in each uvicorn worker: its handler still runs, after ours notes it."""
    seen: list[int] = []

    def server_handler(signum: int, _frame: object) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, server_handler)
    shutdown = ShutdownSignal(deadline_seconds=None)  # the test process is not to stop
    try:
        with shutdown.watching():
            assert not shutdown.received
            signal.raise_signal(signal.SIGTERM)
            assert shutdown.received
            assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is server_handler  # put back as it was
    finally:
        signal.signal(signal.SIGTERM, previous)
