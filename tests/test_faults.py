"""Faults: the database going away and coming back; racing refreshes of one token."""

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from blog.app import create_app
from blog.database import create_db_engine
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.conftest import tenant_path

MakeUser = Callable[..., User]
BOUND_SECONDS = 8.0


class TcpProxy:
    """Forwards a local port to PostgreSQL; ``cut()`` drops every connection, ``restore()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone does not.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


@pytest.fixture
def proxied_client(
    database_backend: str, database_url: str, settings: Settings
) -> Iterator[tuple[TestClient, TcpProxy]]:
    if database_backend != "postgres":
        pytest.skip("a database server that can go away is PostgreSQL's case")
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.restore()
    proxied_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(
        settings.model_copy(update={"database_url": proxied_url}),
        engine=create_db_engine(proxied_url),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, proxy
    proxy.cut()


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_database_outage_answers_503_quickly_and_recovers(
    proxied_client: tuple[TestClient, TcpProxy], tenant: Tenant
) -> None:
    client, proxy = proxied_client
    assert client.get("/health/ready").status_code == 200
    assert client.get(tenant_path(tenant)).status_code == 200

    proxy.cut()
    ready, ready_seconds = timed(lambda: client.get("/health/ready"))
    request, request_seconds = timed(lambda: client.get(tenant_path(tenant)))

    assert ready.status_code == 503
    assert ready.json()["code"] == "database_unavailable"
    assert request.status_code == 503
    assert request.json()["code"] == "database_unavailable"
    assert "Traceback" not in request.text
    assert max(ready_seconds, request_seconds) < BOUND_SECONDS
    assert client.get("/health").status_code == 200

    proxy.restore()
    deadline = time.monotonic() + 10
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "did not recover"
        time.sleep(0.1)
    assert client.get(tenant_path(tenant)).status_code == 200


def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(
    app: FastAPI, client: TestClient, tenant: Tenant, user: MakeUser
) -> None:
    account = user()
    tokens = client.post(
        tenant_path(tenant, "/auth/token"),
        data={"username": account.username, "password": "correct-horse-battery"},
    ).json()
    racers = 6
    barrier = threading.Barrier(racers)
    statuses: list[int] = []

    def refresh() -> None:
        racer = TestClient(app)
        barrier.wait()
        response = racer.post(
            tenant_path(tenant, "/auth/refresh"), json={"refresh_token": tokens["refresh_token"]}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=refresh) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200] + [401] * (racers - 1)
