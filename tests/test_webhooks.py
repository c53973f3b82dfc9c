"""Outbound webhooks, through the API, delivered to a real receiver on 127.0.0.1 that
verifies every request with the Standard Webhooks reference library."""

import http.server
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from blog.database import new_session, utcnow
from blog.jobs.models import Job
from blog.posts import service as posts_service
from blog.posts.models import PostStatus
from blog.posts.schemas import PostCreate
from blog.settings import Settings
from blog.tenancy import bind_tenant, cross_tenant
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from blog.webhooks import addresses, delivery
from blog.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import tenant_path
from tests.factories import DEFAULT_PASSWORD, WebhookDeliveryFactory, WebhookEndpointFactory
from tests.test_posts import create_post, created, delete_post, update_post

Headers = dict[str, str]
MakeUser = Callable[..., User]
RunJobs = Callable[..., int]
PUBLIC_ADDRESS = "93.184.215.14"  # a global address (no request is ever sent to it here)


# --- a receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The payload, if ``secret`` signed it (WebhookVerificationError otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    repeat: int = 1  # bytes: body written this many times


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 keeping every request; it answers with ``answers`` in
    turn (then 200)."""

    answers: list[Answer] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    written: list[int] = field(default_factory=list)  # bytes of each answer's body sent
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    def of(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                answer = receiver.answers.pop(0) if receiver.answers else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                written = 0
                try:
                    self.send_response(answer.status)
                    self.send_header("content-length", str(len(answer.body) * answer.repeat))
                    self.end_headers()
                    for _ in range(answer.repeat):
                        self.wfile.write(answer.body)
                        written += len(answer.body)
                except OSError:
                    pass  # the client hung up: it read what it wanted
                receiver.written.append(written)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the loop's next poll: by default half a second per test.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver is on 127.0.0.1: allowed here (one test shows it refused without)."""
    return settings.model_copy(
        update={"webhooks_allow_private_addresses": True, "webhooks_timeout_seconds": 2.0}
    )


# --- helpers ------------------------------------------------------------------------------


def hooks_path(tenant: Tenant, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/webhooks{rest}"


@pytest.fixture
def admin(user: MakeUser, auth_headers: Callable[[User], Headers]) -> Headers:
    return auth_headers(user(role=Role.admin))


@pytest.fixture
def author(user: MakeUser, auth_headers: Callable[[User], Headers]) -> Headers:
    return auth_headers(user(role=Role.author))


def register(
    client: TestClient, tenant: Tenant, headers: Headers, url: str, events: list[str] | None = None
) -> Any:
    response = client.post(
        hooks_path(tenant), json={"url": url, "events": events or ["*"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def publish(client: TestClient, tenant: Tenant, headers: Headers, **fields: Any) -> Any:
    return created(create_post(client, tenant, headers, status="published", **fields))


def deliveries(client: TestClient, tenant: Tenant, headers: Headers, endpoint: Any) -> Any:
    response = client.get(hooks_path(tenant, f"/{endpoint['id']}/deliveries"), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def later(hours: float) -> Any:
    return utcnow() + timedelta(hours=hours)


def rows(engine: Engine, model: type[Any]) -> list[Any]:
    with new_session(engine) as session, cross_tenant(session, "test: every row"):
        return list(session.exec(select(model)).all())


# --- delivering ---------------------------------------------------------------------------


def test_publishing_a_post_sends_one_signed_delivery(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url, ["post.published"])
    post = publish(client, tenant, author, title="Hello hooks", tags=["news"])

    assert receiver.received == []  # sent by a job, not in the request
    assert run_jobs() == 1

    [request] = receiver.received
    message = request.verify(endpoint["secret"])
    assert message["type"] == "post.published"
    assert message["data"]["id"] == post["id"]
    assert message["data"]["title"] == "Hello hooks"
    assert message["data"]["tags"] == ["news"]
    assert set(message["data"]["author"]) == {"id", "username"}
    assert request.id.startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert b"$2b$" not in request.body
    log = deliveries(client, tenant, admin, endpoint)
    assert log["total"] == 1
    [entry] = log["items"]
    assert entry["id"] == request.id
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 1, 200)
    assert entry["event"] == "post.published"
    detail = client.get(
        hooks_path(tenant, f"/{endpoint['id']}/deliveries/{request.id}"), headers=admin
    )
    assert detail.json()["payload"] == message


def test_endpoints_get_only_the_events_they_subscribe_to(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    register(client, tenant, admin, receiver.url + "/comments", ["comment.created"])
    register(client, tenant, admin, receiver.url + "/all", ["*"])
    register(client, tenant, admin, receiver.url + "/members", ["member.created", "member.deleted"])
    off = register(client, tenant, admin, receiver.url + "/off", ["*"])
    client.patch(hooks_path(tenant, f"/{off['id']}"), json={"is_active": False}, headers=admin)

    draft = created(create_post(client, tenant, author))  # a draft is nobody's news
    post = publish(client, tenant, author)
    comment = client.post(
        f"/api/v1/tenants/{tenant.slug}/posts/{post['id']}/comments",
        json={"body": "First!"},
        headers=author,
    ).json()
    update_post(client, tenant, post["id"], author, title="Changed")
    uncommented = client.delete(
        f"/api/v1/tenants/{tenant.slug}/posts/{post['id']}/comments/{comment['id']}",
        headers=author,
    )
    assert uncommented.status_code == 204, uncommented.text
    update_post(client, tenant, draft["id"], author, status="published")
    update_post(client, tenant, draft["id"], author, status="draft")
    delete_post(client, tenant, post["id"], author)
    joined = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth/register",
        json={"email": "new@example.com", "username": "newbie", "password": DEFAULT_PASSWORD},
    )
    assert joined.status_code == 201, joined.text
    newbie = joined.json()["id"]
    removed = client.delete(f"/api/v1/tenants/{tenant.slug}/users/{newbie}", headers=admin)
    assert removed.status_code == 204, removed.text
    run_jobs()

    def types(path: str) -> list[str]:
        return [json.loads(r.body)["type"] for r in receiver.of(f"/hook{path}")]

    assert types("/comments") == ["comment.created"]
    assert types("/all") == [
        "post.published",
        "comment.created",
        "post.updated",
        "comment.deleted",
        "post.published",
        "post.unpublished",
        "post.deleted",
        "member.created",
        "member.deleted",
    ]
    assert types("/members") == ["member.created", "member.deleted"]
    assert types("/off") == []
    [comment_event] = receiver.of("/hook/comments")
    assert json.loads(comment_event.body)["data"]["id"] == comment["id"]
    joined_event, left_event = receiver.of("/hook/members")
    member = json.loads(joined_event.body)["data"]
    assert (member["username"], member["email"]) == ("newbie", "new@example.com")
    assert "hashed_password" not in member
    assert json.loads(left_event.body)["data"] == {"id": member["id"], "username": "newbie"}
    assert b"$2b$" not in b"".join(r.body for r in receiver.received)


def test_a_scheduled_post_is_announced_when_its_job_publishes_it(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url, ["post.published"])
    post = created(
        create_post(client, tenant, author, status="scheduled", published_at=later(1).isoformat())
    )
    run_jobs()
    assert receiver.received == []

    run_jobs(now=later(2))  # publishes it; its delivery is due at once and goes too

    [request] = receiver.received
    assert request.verify(endpoint["secret"])["data"]["id"] == post["id"]


def test_a_failed_delivery_is_retried_later_with_the_same_id(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)
    receiver.answer(Answer(500, b"oops"))
    publish(client, tenant, author)

    run_jobs()
    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("pending", 1, 500)
    assert entry["last_error"] == "HTTP 500"
    run_jobs()
    assert len(receiver.received) == 1  # the retry waits its backoff

    run_jobs(now=later(1))

    first, second = receiver.received
    assert first.id == second.id == entry["id"]
    assert first.verify(endpoint["secret"]) == second.verify(endpoint["secret"])
    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 2, 200)
    assert entry["last_error"] is None


def test_attempts_show_in_the_log_at_once_and_leave_the_blog_s_cache_alone(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    """A delivery's attempts are no blog content: they move no version (readers' cached
    answers stay), and the log, read again and again, is never kept by the cache."""
    endpoint = register(client, tenant, admin, receiver.url)
    receiver.answer(Answer(500, b"oops"))
    publish(client, tenant, author)
    posts = tenant_path(tenant, "/posts")
    for _ in range(3):
        client.get(posts)
        [entry] = deliveries(client, tenant, admin, endpoint)["items"]
        assert entry["attempts"] == 0
    assert client.get(posts).headers["x-cache"] == "hit"

    run_jobs()

    log = client.get(hooks_path(tenant, f"/{endpoint['id']}/deliveries"), headers=admin)
    assert (log.json()["items"][0]["attempts"], log.headers["cache-control"]) == (1, "no-store")
    assert client.get(posts).headers["x-cache"] == "hit"


def test_a_delivery_fails_after_its_attempts_and_can_be_replayed(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)
    receiver.answer(*[Answer(503)] * delivery.ATTEMPTS)
    publish(client, tenant, author)

    for hour in range(delivery.ATTEMPTS + 2):
        run_jobs(now=later(hour * 2))

    assert len(receiver.received) == delivery.ATTEMPTS
    assert len({request.id for request in receiver.received}) == 1
    failed = deliveries(client, tenant, admin, endpoint)
    [entry] = failed["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == (
        "failed",
        delivery.ATTEMPTS,
        503,
    )
    listed = client.get(
        hooks_path(tenant, f"/{endpoint['id']}/deliveries"),
        params={"status": "failed"},
        headers=admin,
    ).json()
    assert [item["id"] for item in listed["items"]] == [entry["id"]]
    assert listed["total"] == 1
    replay_path = hooks_path(tenant, f"/{endpoint['id']}/deliveries/{entry['id']}/replay")

    replayed = client.post(replay_path, headers=admin)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    again = client.post(replay_path, headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "webhook_delivery_pending"
    run_jobs()

    assert len(receiver.received) == delivery.ATTEMPTS + 1
    assert receiver.received[-1].id == entry["id"]
    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == (
        "delivered",
        delivery.ATTEMPTS + 1,
        200,
    )


def test_a_ping_is_signed_and_logged(
    client: TestClient, tenant: Tenant, admin: Headers, receiver: Receiver, run_jobs: RunJobs
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)

    response = client.post(hooks_path(tenant, f"/{endpoint['id']}/ping"), headers=admin)
    assert response.status_code == 202, response.text
    run_jobs()

    [request] = receiver.received
    assert request.verify(endpoint["secret"])["type"] == "webhook.ping"
    assert request.id == response.json()["id"]


def test_rotation_signs_with_both_secrets_for_a_day(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)
    old = endpoint["secret"]
    rotated = client.post(hooks_path(tenant, f"/{endpoint['id']}/rotate-secret"), headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert old not in rotated.text

    publish(client, tenant, author)
    run_jobs()
    [during] = receiver.received
    assert during.verify(old) == during.verify(new)
    assert len(during.headers["webhook-signature"].split(" ")) == 2

    publish(client, tenant, author)
    run_jobs(now=later(25))
    after = receiver.received[-1]
    after.verify(new)
    with pytest.raises(WebhookVerificationError):
        after.verify(old)


def test_a_deleted_endpoint_s_pending_deliveries_end_quietly(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)
    publish(client, tenant, author)

    deleted = client.delete(hooks_path(tenant, f"/{endpoint['id']}"), headers=admin)
    assert deleted.status_code == 204
    assert run_jobs() == 1

    assert receiver.received == []
    assert rows(engine, WebhookDelivery) == []
    assert [job.state for job in rows(engine, Job)] == ["done"]


def test_a_switched_off_endpoint_s_pending_deliveries_are_not_sent(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    endpoint = register(client, tenant, admin, receiver.url)
    path = hooks_path(tenant, f"/{endpoint['id']}")
    publish(client, tenant, author)

    client.patch(path, json={"is_active": False}, headers=admin)
    run_jobs()

    assert receiver.received == []
    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["attempts"]) == ("failed", 0)
    assert entry["last_error"] == "not sent: the endpoint is switched off"
    replay = client.post(f"{path}/deliveries/{entry['id']}/replay", headers=admin)
    assert (replay.status_code, replay.json()["code"]) == (409, "webhook_endpoint_inactive")
    ping = client.post(f"{path}/ping", headers=admin)
    assert (ping.status_code, ping.json()["code"]) == (409, "webhook_endpoint_inactive")
    # Switched on again, the delivery can be replayed.
    client.patch(path, json={"is_active": True}, headers=admin)
    assert client.post(f"{path}/deliveries/{entry['id']}/replay", headers=admin).status_code == 202
    run_jobs()
    assert receiver.received[0].id == entry["id"]


def test_a_rolled_back_change_fires_nothing(
    tenant: Tenant,
    user: MakeUser,
    admin: Headers,
    client: TestClient,
    receiver: Receiver,
    run_jobs: RunJobs,
    engine: Engine,
) -> None:
    register(client, tenant, admin, receiver.url)
    writer = user(role=Role.author)

    with new_session(engine) as session:
        bind_tenant(session, tenant.id)
        posts_service.create_post(
            session,
            author=session.merge(writer),
            data=PostCreate(title="Never", body="Text.", status=PostStatus.published),
        )
        assert len(session.exec(select(WebhookDelivery)).all()) == 1  # emitted, then...
        session.rollback()

    assert rows(engine, WebhookDelivery) == []
    assert rows(engine, Job) == []
    assert run_jobs() == 0
    assert receiver.received == []


def test_each_blog_gets_only_its_own_events(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: Callable[[User], Headers],
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    mine = register(client, tenant, auth_headers(user(role=Role.admin)), receiver.url + "/a")
    theirs_admin = auth_headers(user(role=Role.owner, tenant=other_tenant))
    theirs = register(client, other_tenant, theirs_admin, receiver.url + "/b")

    post = publish(client, tenant, auth_headers(user(role=Role.author)))
    run_jobs()
    other_post = publish(
        client, other_tenant, auth_headers(user(role=Role.author, tenant=other_tenant))
    )
    run_jobs()

    [a] = receiver.of("/hook/a")
    [b] = receiver.of("/hook/b")
    assert a.verify(mine["secret"])["data"]["id"] == post["id"]
    assert b.verify(theirs["secret"])["data"]["id"] == other_post["id"]
    with pytest.raises(WebhookVerificationError):
        b.verify(mine["secret"])
    # Neither blog's admin sees the other's endpoints.
    listed = client.get(hooks_path(other_tenant), headers=theirs_admin).json()
    assert [item["id"] for item in listed["items"]] == [theirs["id"]]
    foreign = client.get(hooks_path(other_tenant, f"/{mine['id']}"), headers=theirs_admin)
    assert foreign.status_code == 404


# --- SSRF ---------------------------------------------------------------------------------

INTERNAL_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://127.1/hook",
    "http://0x7f.1/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
]
INVALID_URLS = [
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://user:secret@example.com/hook",
    "http://user@example.com/hook",
    "http:///hook",
    "http://example.com:99999/hook",
    "not a url",
]


def test_internal_and_invalid_urls_are_refused_at_registration(
    client: TestClient, tenant: Tenant, admin: Headers, settings: Settings, engine: Engine
) -> None:
    settings.webhooks_allow_private_addresses = False
    problems = []

    for url, code in [
        *((url, "webhook_url_not_allowed") for url in INTERNAL_URLS),
        *((url, "invalid_webhook_url") for url in INVALID_URLS),
    ]:
        response = client.post(
            hooks_path(tenant), json={"url": url, "events": ["*"]}, headers=admin
        )
        if response.status_code != 422 or response.json()["code"] != code:
            problems.append(f"{url}: {response.status_code} {response.text}")

    assert not problems, "\n".join(problems)
    assert rows(engine, WebhookEndpoint) == []
    # A public address is fine; moving it inside later is refused the same way.
    endpoint = register(client, tenant, admin, f"https://{PUBLIC_ADDRESS}/hook")
    moved = client.patch(
        hooks_path(tenant, f"/{endpoint['id']}"),
        json={"url": "http://127.0.0.1/hook"},
        headers=admin,
    )
    assert (moved.status_code, moved.json()["code"]) == (422, "webhook_url_not_allowed")


def test_delivery_refuses_an_address_that_became_internal(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    settings: Settings,
    receiver: Receiver,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Registered while allowed, then the setting is turned off.
    direct = register(client, tenant, admin, receiver.url, ["post.published"])
    # A name answering a public address at registration, then 127.0.0.1 (DNS rebinding).
    answers = {"hooks.example.test": PUBLIC_ADDRESS}
    real_resolve = addresses.resolve

    def resolve(host: str, port: int) -> list[addresses.IPAddress]:
        return real_resolve(answers.get(host, host), port)

    monkeypatch.setattr(addresses, "resolve", resolve)
    settings.webhooks_allow_private_addresses = False
    port = receiver.url.split(":")[2].split("/")[0]
    renamed = register(
        client, tenant, admin, f"http://hooks.example.test:{port}/hook", ["post.published"]
    )
    answers["hooks.example.test"] = "127.0.0.1"

    publish(client, tenant, author)
    run_jobs()

    assert receiver.received == []
    for endpoint in (direct, renamed):
        [entry] = deliveries(client, tenant, admin, endpoint)["items"]
        assert entry["status"] == "pending"  # retried: the setting or DNS may change back
        assert entry["last_error"] == "refused: the host is an internal address"
        assert entry["last_status_code"] is None


def test_delivery_connects_to_the_address_it_checked_under_the_url_s_name(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    settings: Settings,
    receiver: Receiver,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The name resolves to the receiver's address, taken here for a public one.
    monkeypatch.setattr(
        addresses, "resolve", lambda _host, _port: [ipaddress.ip_address("127.0.0.1")]
    )
    monkeypatch.setattr(addresses, "is_internal", lambda _address: False)
    settings.webhooks_allow_private_addresses = False
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint = register(client, tenant, admin, f"http://hooks.example.test:{port}/hook")
    publish(client, tenant, author)

    run_jobs()

    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.test:{port}"
    request.verify(endpoint["secret"])


def test_a_pinned_url_keeps_its_path_port_and_name() -> None:
    target = addresses.target(f"https://{PUBLIC_ADDRESS}:8443/a?b=c", allow_private=False)
    assert target.url == f"https://{PUBLIC_ADDRESS}:8443/a?b=c"
    assert (target.host, target.server_name, target.pinned) == (
        f"{PUBLIC_ADDRESS}:8443",
        PUBLIC_ADDRESS,
        True,
    )
    # Redirects are not followed: a 3xx is a failed attempt.
    assert not delivery.Outcome(302, "HTTP 302").delivered


# --- limits -------------------------------------------------------------------------------


def test_an_oversized_answer_is_cut_off(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    settings: Settings,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    settings.webhooks_max_response_bytes = 1024
    endpoint = register(client, tenant, admin, receiver.url)
    huge = 64 * 1024 * 1024
    receiver.answer(Answer(200, b"x" * 65536, repeat=huge // 65536))
    publish(client, tenant, author)

    run_jobs()

    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["last_status_code"]) == ("delivered", 200)
    deadline = time.monotonic() + 5
    while not receiver.written and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receiver.written[0] < huge // 4  # the client hung up long before the end


def test_reading_stops_at_the_cap() -> None:
    chunks_sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            chunks_sent.append(1)
            yield b"y" * 1000

    response = httpx.Response(200, content=chunks(), request=httpx.Request("POST", "http://x"))
    read = delivery._read_some(response, 4500, time.monotonic() + 10)

    assert read == 5000
    assert len(chunks_sent) == 5


def test_a_receiver_too_slow_to_answer_is_a_failed_attempt(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    settings: Settings,
    receiver: Receiver,
    run_jobs: RunJobs,
) -> None:
    settings.webhooks_timeout_seconds = 0.3
    endpoint = register(client, tenant, admin, receiver.url)
    receiver.answer(Answer(200, delay=1.5))
    publish(client, tenant, author)

    started = time.monotonic()
    run_jobs()

    assert time.monotonic() - started < 1.4
    [entry] = deliveries(client, tenant, admin, endpoint)["items"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("pending", 1, None)
    assert entry["last_error"] == "timed out"


# --- secrets and input --------------------------------------------------------------------


def test_secrets_are_shown_once_never_in_reads_or_logs(
    client: TestClient,
    tenant: Tenant,
    admin: Headers,
    author: Headers,
    receiver: Receiver,
    run_jobs: RunJobs,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint = register(client, tenant, admin, receiver.url)
    secret = endpoint["secret"]
    path = hooks_path(tenant, f"/{endpoint['id']}")
    receiver.answer(Answer(500))
    publish(client, tenant, author)
    run_jobs()
    delivery_id = receiver.received[0].id

    reads = [
        client.get(hooks_path(tenant), headers=admin),
        client.get(path, headers=admin),
        client.patch(path, json={"description": "Renamed"}, headers=admin),
        client.get(f"{path}/deliveries", headers=admin),
        client.get(f"{path}/deliveries/{delivery_id}", headers=admin),
    ]

    for response in reads:
        assert response.status_code == 200, response.text
        assert "whsec_" not in response.text
        assert "secret" not in response.json()
    assert secret not in caplog.text
    assert secret.removeprefix("whsec_") not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://93.184.215.14/", "events": []},
        {"url": "https://93.184.215.14/", "events": ["post.exploded"]},
        {"url": "https://93.184.215.14/"},
        {"url": "https://93.184.215.14/", "events": ["*"], "secret": "whsec_bWluZQ=="},
        {"url": "", "events": ["*"]},
    ],
)
def test_bad_endpoint_input_is_422(
    client: TestClient, tenant: Tenant, admin: Headers, body: dict[str, Any]
) -> None:
    response = client.post(hooks_path(tenant), json=body, headers=admin)

    assert response.status_code == 422, response.text


def test_only_admins_manage_webhooks(
    client: TestClient,
    tenant: Tenant,
    user: MakeUser,
    auth_headers: Callable[[User], Headers],
) -> None:
    body = {"url": f"https://{PUBLIC_ADDRESS}/hook", "events": ["*"]}
    for role in (Role.reader, Role.author, Role.editor):
        headers = auth_headers(user(role=role))
        assert client.post(hooks_path(tenant), json=body, headers=headers).status_code == 403
        assert client.get(hooks_path(tenant), headers=headers).status_code == 403
    assert client.get(hooks_path(tenant)).status_code == 401
    owner = auth_headers(user(role=Role.owner))
    assert client.post(hooks_path(tenant), json=body, headers=owner).status_code == 201


def test_a_delivery_cannot_name_another_blog_s_endpoint(db: Session) -> None:
    """The foreign key is composite with the blog."""
    made = WebhookDeliveryFactory.create()
    endpoint = WebhookEndpointFactory.create()
    assert made.tenant_id != endpoint.tenant_id
    made.endpoint_id = endpoint.id
    db.add(made)
    with pytest.raises(sa.exc.IntegrityError):
        db.commit()
    db.rollback()
