"""The job mechanism: the outbox, claims, retries, tenant binding and the worker command."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from blog.database import new_session, unit_of_work, utcnow
from blog.jobs import JobContext, RetryLater, enqueue, handler
from blog.jobs.models import Job, JobState
from blog.jobs.queue import JobQueue, JobsUrlError
from blog.jobs.runner import LEASE, SWEEP_GRACE, Runner
from blog.posts.models import Tag
from blog.settings import Settings
from blog.tenancy import TenantScopeError, bind_tenant, bound_tenant, cross_tenant
from blog.tenants.models import Tenant
from tests.conftest import tenant_path


@dataclass(frozen=True)
class Seen:
    tenant_id: uuid.UUID
    bound: uuid.UUID | None
    attempt: int
    tags_visible: int  # rows of ``tags`` the database shows the job (raw SQL: RLS only)


SEEN: list[Seen] = []


@handler("test.note", attempts=3, backoff_seconds=60.0, max_backoff_seconds=600.0)
def note(session: Session, job: JobContext) -> None:
    visible = session.execute(
        sa.text("SELECT count(*) FROM tags").execution_options(raw_sql_reason="test: RLS")
    ).scalar_one()
    SEEN.append(Seen(job.tenant_id, bound_tenant(session), job.attempt, visible))
    session.add(Tag(tenant_id=job.tenant_id, name=f"job-{job.attempt}-{len(SEEN)}"))
    behaviour = job.payload.get("behaviour")
    if behaviour == "fail" or (behaviour == "fail-once" and job.attempt == 1):
        raise RuntimeError("the payload's secret must not be logged")
    if behaviour == "retry-later":
        raise RetryLater("HTTP 500")


@pytest.fixture(autouse=True)
def _forget_seen() -> Iterator[None]:
    SEEN.clear()
    yield
    SEEN.clear()


def enqueue_in(engine: Engine, tenant: Tenant, **options: Any) -> uuid.UUID:
    payload = options.pop("payload", {})
    with unit_of_work(new_session(engine)) as session:
        bind_tenant(session, tenant.id)
        return enqueue(session, "test.note", payload, **options)


def job_of(engine: Engine, job_id: uuid.UUID) -> Job:
    with new_session(engine) as session, cross_tenant(session, "test: reading a job"):
        return session.exec(select(Job).where(col(Job.id) == job_id)).one()


def tag_names(engine: Engine) -> list[str]:
    with new_session(engine) as session, cross_tenant(session, "test: every tag"):
        return sorted(session.exec(select(Tag.name)).all())


def test_a_rolled_back_change_fires_nothing(
    engine: Engine, tenant: Tenant, run_jobs: Callable[..., int]
) -> None:
    def failing_change() -> None:
        with unit_of_work(new_session(engine)) as session:
            bind_tenant(session, tenant.id)
            enqueue(session, "test.note", {})
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    assert run_jobs(now=utcnow() + timedelta(days=1)) == 0
    assert SEEN == []


def test_a_committed_change_runs_its_job_once(
    engine: Engine, tenant: Tenant, run_jobs: Callable[..., int]
) -> None:
    job_id = enqueue_in(engine, tenant)
    assert run_jobs() == 1
    assert run_jobs() == 0
    assert [seen.attempt for seen in SEEN] == [1]
    job = job_of(engine, job_id)
    assert (job.state, job.attempts, job.locked_until) == (JobState.done, 1, None)
    assert job.finished_at is not None


def test_an_idempotency_key_makes_one_job(
    engine: Engine, tenant: Tenant, other_tenant: Tenant, run_jobs: Callable[..., int]
) -> None:
    first = enqueue_in(engine, tenant, key="post-1@noon")
    assert enqueue_in(engine, tenant, key="post-1@noon") == first
    enqueue_in(engine, other_tenant, key="post-1@noon")  # another blog's key is its own
    assert run_jobs() == 2
    assert sorted(seen.tenant_id for seen in SEEN) == sorted([tenant.id, other_tenant.id])


def test_enqueueing_needs_a_blog_and_a_known_kind(engine: Engine, tenant: Tenant) -> None:
    with new_session(engine) as session:
        with pytest.raises(TenantScopeError):
            enqueue(session, "test.note", {})
        bind_tenant(session, tenant.id)
        with pytest.raises(ValueError, match="no handler"):
            enqueue(session, "no.such.kind", {})


def test_a_failed_attempt_is_retried_later_with_its_writes_undone(
    engine: Engine, tenant: Tenant, run_jobs: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    job_id = enqueue_in(engine, tenant, payload={"behaviour": "fail-once"})
    assert run_jobs() == 1
    job = job_of(engine, job_id)
    assert (job.state, job.attempts, job.last_error) == (JobState.pending, 1, "RuntimeError")
    # 60 s, jittered by a quarter either way.
    assert timedelta(seconds=44) < job.run_at - utcnow() < timedelta(seconds=76)
    assert tag_names(engine) == []  # the failed attempt's tag was rolled back
    assert "secret" not in caplog.text  # the error's type is logged, not its message

    assert run_jobs() == 0  # not due yet
    assert run_jobs(now=job.run_at + timedelta(seconds=1)) == 1
    assert job_of(engine, job_id).state == JobState.done
    assert tag_names(engine) == ["job-2-2"]


def test_a_job_fails_for_good_after_its_attempts(
    engine: Engine, tenant: Tenant, run_jobs: Callable[..., int]
) -> None:
    job_id = enqueue_in(engine, tenant, payload={"behaviour": "fail"})
    moment = utcnow()
    for _ in range(5):
        moment += timedelta(hours=1)
        run_jobs(now=moment)
    job = job_of(engine, job_id)
    assert (job.state, job.attempts) == (JobState.failed, 3)
    assert [seen.attempt for seen in SEEN] == [1, 2, 3]


def test_retry_later_keeps_the_attempts_writes(
    engine: Engine, tenant: Tenant, run_jobs: Callable[..., int]
) -> None:
    job_id = enqueue_in(engine, tenant, payload={"behaviour": "retry-later"})
    run_jobs()
    job = job_of(engine, job_id)
    assert (job.state, job.last_error) == (JobState.pending, "HTTP 500")
    assert tag_names(engine) == ["job-1-1"]


def test_each_job_binds_its_own_blog_never_the_previous_ones(
    engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
    run_jobs: Callable[..., int],
    database_backend: str,
) -> None:
    with unit_of_work(new_session(engine)) as session:
        bind_tenant(session, other_tenant.id)
        session.add(Tag(tenant_id=other_tenant.id, name="b-only"))
    for blog in (tenant, other_tenant, tenant):
        enqueue_in(engine, blog)
    assert run_jobs() == 3  # one thread, one after another
    assert [seen.tenant_id for seen in SEEN] == [tenant.id, other_tenant.id, tenant.id]
    assert all(seen.bound == seen.tenant_id for seen in SEEN)
    if database_backend == "postgres":
        # Row-level security shows each job its own blog's rows only: A's jobs see none of
        # B's tag, B's job sees it (and the tags earlier jobs of B wrote).
        assert [seen.tags_visible for seen in SEEN] == [0, 1, 1]


def test_two_workers_never_run_one_job_at_once(
    engine: Engine, tenant: Tenant, settings: Settings
) -> None:
    job_id = enqueue_in(engine, tenant)
    first, second = Runner(engine, settings), Runner(engine, settings)
    claim = first._claim(tenant.id, job_id, utcnow())
    assert claim is not None
    assert second.run(tenant.id, job_id) is False  # claimed: not the second's to run
    assert SEEN == []


def test_a_dead_workers_job_is_taken_over_and_its_late_writes_dropped(
    engine: Engine, tenant: Tenant, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    job_id = enqueue_in(engine, tenant)
    stale = Runner(engine, settings)
    stale_claim = stale._claim(tenant.id, job_id, utcnow())
    assert stale_claim is not None
    assert run_jobs() == 0  # its lease holds
    assert run_jobs(now=utcnow() + LEASE + timedelta(seconds=1)) == 1  # taken over
    assert job_of(engine, job_id).attempts == 2
    # The first worker wakes up and finishes: its claim is gone, so are its writes.
    stale._run_claimed(stale_claim, stale_claim_handler(), utcnow())
    assert job_of(engine, job_id).state == JobState.done
    assert tag_names(engine) == ["job-2-1"]


def stale_claim_handler() -> Any:
    from blog.jobs.registry import HANDLERS

    return HANDLERS["test.note"]


def test_the_sweep_announces_what_was_never_announced(
    engine: Engine, tenant: Tenant, settings: Settings
) -> None:
    job_id = enqueue_in(engine, tenant)
    runner = Runner(engine, settings)
    queue = JobQueue("memory://")
    assert runner.sweep(queue) == 0  # freshly written: its announcement has time to arrive
    assert queue.huey.pending_count() == 0
    assert runner.sweep(queue, now=utcnow() + SWEEP_GRACE + timedelta(seconds=1)) == 1
    assert queue.huey.pending_count() == 1
    assert job_of(engine, job_id).state == JobState.pending  # announced, not yet run


def test_finished_jobs_are_kept_for_a_while(
    engine: Engine, tenant: Tenant, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    job_id = enqueue_in(engine, tenant)
    run_jobs()
    runner = Runner(engine, settings)
    keep = timedelta(days=settings.jobs_keep_days)
    assert runner.prune(now=utcnow() + keep - timedelta(minutes=1)) == 0
    assert runner.prune(now=utcnow() + keep + timedelta(minutes=1)) == 1
    with new_session(engine) as session, cross_tenant(session, "test: every job"):
        assert session.get(Job, (tenant.id, job_id)) is None


def test_a_bad_jobs_url_is_refused() -> None:
    with pytest.raises(JobsUrlError, match="BLOG_JOBS_URL"):
        JobQueue("amqp://127.0.0.1")


def _redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return url


@pytest.fixture(params=["sqlite", "redis"])
def jobs_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(BLOG_JOBS_URL, BLOG_JOBS_QUEUE): the embedded queue, and Redis as in production
    under a queue name of its own, emptied afterwards."""
    name = f"blog-test-{uuid.uuid4().hex[:12]}"
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else _redis_url()
    yield url, name
    JobQueue(url, name=name).huey.flush()


def test_blog_worker_publishes_a_scheduled_post(
    client: Any,
    app: Any,
    tenant: Tenant,
    user: Callable[..., Any],
    auth_headers: Callable[..., dict[str, str]],
    settings: Settings,
    jobs_queue: tuple[str, str],
) -> None:
    """End to end: the API announces on the queue; a `blog worker` process runs the job at
    its time."""
    from blog.jobs.queue import attach_queue

    jobs_url, queue_name = jobs_queue
    attach_queue(app.state.engine, JobQueue(jobs_url, name=queue_name))
    env = {
        **os.environ,
        "BLOG_DATABASE_URL": settings.database_url,
        "BLOG_JOBS_URL": jobs_url,
        "BLOG_JOBS_QUEUE": queue_name,
        "BLOG_SECRET_KEY": settings.secret_key.get_secret_value(),
        "BLOG_ENVIRONMENT": "test",
    }
    worker = subprocess.Popen(  # noqa: S603 (our own command)
        [str(Path(sys.executable).parent / "blog"), "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        at = utcnow() + timedelta(seconds=2)
        author = auth_headers(user())
        response = client.post(
            tenant_path(tenant, "/posts"),
            json={
                "title": "Soon",
                "body": "x",
                "status": "scheduled",
                "published_at": at.isoformat(),
            },
            headers=author,
        )
        assert response.status_code == 201, response.text
        post_url = tenant_path(tenant, f"/posts/{response.json()['id']}")
        assert client.get(post_url).status_code == 404
        deadline = time.monotonic() + 30
        while client.get(post_url).status_code != 200:
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker did not publish the post"
            time.sleep(0.2)
        assert utcnow() >= at
    finally:
        worker.terminate()
        worker.wait(10)
