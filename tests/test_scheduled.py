"""Scheduled publishing, through the API: hidden until its time, then published by a job,
exactly once, however many workers race for it."""

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from blog.database import new_session, utcnow
from blog.jobs.models import Job, JobState
from blog.jobs.runner import Runner
from blog.posts import publishing
from blog.settings import Settings
from blog.tenancy import cross_tenant
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conduit import Conduit
from tests.test_posts import create_post, created, list_posts, listed_ids, read_post, update_post

Headers = dict[str, str]


@pytest.fixture
def author(user: Callable[..., User], auth_headers: Callable[[User], Headers]) -> Headers:
    return auth_headers(user(role=Role.author))


def later(minutes: float = 10) -> datetime:
    return utcnow() + timedelta(minutes=minutes)


def schedule(client: TestClient, tenant: Tenant, headers: Headers, at: datetime) -> Any:
    return created(
        create_post(
            client,
            tenant,
            headers,
            title="Coming soon",
            status="scheduled",
            published_at=at.isoformat(),
        )
    )


def jobs(engine: Engine) -> list[Job]:
    with new_session(engine) as session, cross_tenant(session, "test: every job"):
        return list(session.exec(select(Job).order_by(col(Job.created_at))).all())


def test_a_scheduled_post_is_hidden_until_its_time_then_published(
    client: TestClient,
    tenant: Tenant,
    author: Headers,
    api: Conduit,
    run_jobs: Callable[..., int],
) -> None:
    at = later()
    post = schedule(client, tenant, author, at)
    assert post["status"] == "scheduled"
    assert datetime.fromisoformat(post["published_at"]) == at

    # Readers see nothing: not the post, not in lists, not in the RealWorld API.
    assert read_post(client, tenant, post["id"]).status_code == 404
    assert post["id"] not in listed_ids(list_posts(client, tenant))
    assert api.get(f"/articles/{post['slug']}").status_code == 404
    assert api.list_slugs() == []
    assert api.get("/tags").json() == {"tags": []}
    # Its author does, as for a draft; listing scheduled posts needs a token.
    assert read_post(client, tenant, post["id"], author).json()["status"] == "scheduled"
    assert listed_ids(list_posts(client, tenant, author, status="scheduled")) == [post["id"]]
    assert list_posts(client, tenant, status="scheduled").status_code == 401

    assert run_jobs() == 0  # not yet due
    assert read_post(client, tenant, post["id"]).status_code == 404

    assert run_jobs(now=at + timedelta(seconds=1)) == 1
    published = read_post(client, tenant, post["id"]).json()
    assert published["status"] == "published"
    assert datetime.fromisoformat(published["published_at"]) == at
    assert listed_ids(list_posts(client, tenant)) == [post["id"]]
    assert api.list_slugs() == [post["slug"]]
    assert run_jobs(now=at + timedelta(minutes=5)) == 0  # done: never again


def test_two_workers_racing_publish_a_post_exactly_once(
    client: TestClient,
    tenant: Tenant,
    author: Headers,
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = later(minutes=1)
    post = schedule(client, tenant, author, at)
    published: list[bool] = []
    publish_due = publishing.publish_due

    def counting(*args: Any, **kwargs: Any) -> bool:
        done = publish_due(*args, **kwargs)
        published.append(done)
        return done

    monkeypatch.setattr(publishing, "publish_due", counting)
    start = threading.Barrier(4)
    ran: list[int] = []

    def worker() -> None:
        runner = Runner(engine, settings)
        start.wait()
        ran.append(runner.run_due(now=at + timedelta(seconds=1)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(ran) == 1  # one claim won; the others found nothing to claim
    assert published == [True]
    assert read_post(client, tenant, post["id"]).json()["status"] == "published"
    (job,) = jobs(engine)
    assert (job.state, job.attempts) == (JobState.done, 1)


def test_rescheduling_moves_the_publication(
    client: TestClient, tenant: Tenant, author: Headers, run_jobs: Callable[..., int]
) -> None:
    first, second = later(10), later(60)
    post = schedule(client, tenant, author, first)
    changed = update_post(client, tenant, post["id"], author, published_at=second.isoformat())
    assert changed.status_code == 200, changed.text
    assert datetime.fromisoformat(changed.json()["published_at"]) == second

    run_jobs(now=first + timedelta(seconds=1))  # the old time's job finds nothing to do
    assert read_post(client, tenant, post["id"]).status_code == 404
    assert run_jobs(now=second + timedelta(seconds=1)) == 1
    assert read_post(client, tenant, post["id"]).json()["status"] == "published"


def test_unscheduling_to_a_draft_keeps_it_hidden(
    client: TestClient, tenant: Tenant, author: Headers, run_jobs: Callable[..., int]
) -> None:
    at = later()
    post = schedule(client, tenant, author, at)
    draft = update_post(client, tenant, post["id"], author, status="draft").json()
    assert (draft["status"], draft["published_at"]) == ("draft", None)
    run_jobs(now=at + timedelta(seconds=1))
    assert read_post(client, tenant, post["id"]).status_code == 404
    assert read_post(client, tenant, post["id"], author).json()["status"] == "draft"


def test_publishing_a_scheduled_post_at_once(
    client: TestClient, tenant: Tenant, author: Headers, run_jobs: Callable[..., int]
) -> None:
    at = later()
    post = schedule(client, tenant, author, at)
    now = update_post(client, tenant, post["id"], author, status="published").json()
    assert now["status"] == "published"
    assert datetime.fromisoformat(now["published_at"]) < at
    run_jobs(now=at + timedelta(seconds=1))  # its job finds it published: no change
    assert read_post(client, tenant, post["id"]).json()["published_at"] == now["published_at"]


def test_a_deleted_scheduled_post_leaves_a_harmless_job(
    client: TestClient,
    tenant: Tenant,
    author: Headers,
    engine: Engine,
    run_jobs: Callable[..., int],
) -> None:
    at = later()
    post = schedule(client, tenant, author, at)
    assert (
        client.delete(
            f"/api/v1/tenants/{tenant.slug}/posts/{post['id']}", headers=author
        ).status_code
        == 204
    )
    assert run_jobs(now=at + timedelta(seconds=1)) == 1
    assert [job.state for job in jobs(engine)] == [JobState.done]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": "scheduled"}, "invalid_schedule"),  # no time
        ({"status": "scheduled", "published_at": "2020-01-01T00:00:00Z"}, "invalid_schedule"),
        ({"status": "draft", "published_at": "2099-01-01T00:00:00Z"}, "invalid_schedule"),
        ({"status": "published", "published_at": "2099-01-01T00:00:00Z"}, "invalid_schedule"),
    ],
)
def test_a_schedule_needs_a_future_time(
    client: TestClient,
    tenant: Tenant,
    author: Headers,
    engine: Engine,
    fields: dict[str, str],
    code: str,
) -> None:
    response = create_post(client, tenant, author, **fields)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert jobs(engine) == []


def test_a_time_without_a_zone_is_refused(
    client: TestClient, tenant: Tenant, author: Headers
) -> None:
    response = create_post(
        client, tenant, author, status="scheduled", published_at="2099-01-01T00:00:00"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "published_at"]


def test_a_published_post_cannot_be_scheduled(
    client: TestClient, tenant: Tenant, author: Headers, engine: Engine
) -> None:
    post = created(create_post(client, tenant, author, status="published"))
    response = update_post(
        client, tenant, post["id"], author, status="scheduled", published_at=later().isoformat()
    )
    assert response.status_code == 409
    assert response.json()["code"] == "post_already_published"
    assert jobs(engine) == []
