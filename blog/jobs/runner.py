"""Running jobs: claim one, run its handler bound to its own blog, record the outcome.

A claim is one conditional UPDATE (pending and due, or running with an expired lease),
so two workers never run one job at the same moment, whatever the queue delivered. The
handler's writes commit together with "done", and only while the claim still holds
(its attempt number), so a job whose effect is in the database has it exactly once; a
side effect outside it (an HTTP call) happens at least once.

Every job runs in a new session bound to the job's own tenant (and, on PostgreSQL, its
row-level security scope): nothing of the previous job, or of whoever announced it,
carries over.
"""

import importlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from blog.database import new_session, unit_of_work, utcnow
from blog.jobs.models import ERROR_MAX_LENGTH, Job, JobState
from blog.jobs.outbox import Announcement, announce_after_commit
from blog.jobs.queue import JobQueue
from blog.jobs.registry import HANDLERS, Handler, JobContext, RetryLater
from blog.observability import tracing
from blog.observability.context import running_job
from blog.settings import Settings
from blog.tenancy import bind_tenant, cross_tenant

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claim not finished by then is presumed dead
SWEEP_GRACE = timedelta(seconds=30)  # announced jobs get this long before the sweep
SWEEP_BATCH = 500
# Where the handlers live: imported by every runner, so each kind is known.
HANDLER_MODULES = ("blog.posts.publishing", "blog.webhooks.delivery")


class LostClaim(RuntimeError):
    """The job's lease ran out and another worker claimed it: this run's writes go."""


@dataclass(frozen=True)
class Claim:
    tenant_id: uuid.UUID
    job_id: uuid.UUID
    kind: str
    payload: dict[str, object]
    attempt: int


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(Job.state) == JobState.pending, col(Job.run_at) <= now),
        sa.and_(col(Job.state) == JobState.running, col(Job.locked_until) < now),
    )


def _short(error: BaseException) -> str:
    """What a failed attempt records: the error's type (its message may quote the
    payload), or a handler's own words for a RetryLater."""
    text = str(error) if isinstance(error, RetryLater) and str(error) else type(error).__name__
    return text[:ERROR_MAX_LENGTH]


class Runner:
    """Runs the jobs of every blog in one database."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        self.engine = engine
        self.settings = settings
        self.tracer = tracing.tracer(__name__)

    def run(self, tenant_id: uuid.UUID, job_id: uuid.UUID, *, now: datetime | None = None) -> bool:
        """Claim and run one job; False when it was not there to claim (done, not yet
        due, or another worker's)."""
        now = now or utcnow()
        traced = (
            {"blog.tenant.id": str(tenant_id), "blog.job.id": str(job_id)} if self.tracer else {}
        )
        with (
            running_job(job_id=job_id, tenant_id=tenant_id),
            tracing.span(self.tracer, "job", traced),  # one trace: the job's statements
        ):
            claim = self._claim(tenant_id, job_id, now)
            if claim is None:
                return False
            handler = HANDLERS.get(claim.kind)
            if handler is None or claim.attempt > handler.attempts:
                self._give_up(claim, "unknown kind" if handler is None else "attempts used up")
                return True
            self._run_claimed(claim, handler, now)
            return True

    def due_jobs(
        self, *, now: datetime | None = None, grace: timedelta = timedelta(0)
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """The (tenant, job) of every blog's jobs due ``grace`` ago, oldest first."""
        with (
            unit_of_work(new_session(self.engine)) as session,
            cross_tenant(session, "finding every blog's due jobs"),
        ):
            rows = session.exec(
                select(Job.tenant_id, Job.id)
                .where(_due((now or utcnow()) - grace))
                .order_by(col(Job.run_at))
                .limit(SWEEP_BATCH)
            ).all()
        return [(tenant_id, job_id) for tenant_id, job_id in rows]

    def run_due(self, *, now: datetime | None = None) -> int:
        """Run every due job in this thread, until none is left; how many ran."""
        ran = 0
        while jobs := self.due_jobs(now=now):
            ran_now = sum(self.run(tenant_id, job_id, now=now) for tenant_id, job_id in jobs)
            if not ran_now:
                break
            ran += ran_now
        return ran

    def sweep(self, queue: JobQueue, *, now: datetime | None = None) -> int:
        """Announce the jobs whose announcement was lost (a process died between commit
        and announcing, a worker died holding one); how many."""
        now = now or utcnow()
        with tracing.span(self.tracer, "jobs sweep", {}):
            jobs = self.due_jobs(now=now, grace=SWEEP_GRACE)
            for tenant_id, job_id in jobs:
                queue.announce(tenant_id, job_id, now)
            if jobs:
                logger.info("sweep: %d due jobs announced again", len(jobs))
            self.prune(now=now)
        return len(jobs)

    def prune(self, *, now: datetime | None = None) -> int:
        """Delete the jobs finished more than ``jobs_keep_days`` ago; how many."""
        before = (now or utcnow()) - timedelta(days=self.settings.jobs_keep_days)
        with (
            unit_of_work(new_session(self.engine)) as session,
            cross_tenant(session, "deleting every blog's old finished jobs"),
        ):
            result = session.execute(
                sa.delete(Job).where(
                    col(Job.state).in_([JobState.done, JobState.failed]),
                    col(Job.finished_at) < before,
                ),
                execution_options={"synchronize_session": False},
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _claim(self, tenant_id: uuid.UUID, job_id: uuid.UUID, now: datetime) -> Claim | None:
        with unit_of_work(new_session(self.engine)) as session:
            bind_tenant(session, tenant_id)
            row = session.execute(
                sa.update(Job)
                .where(col(Job.id) == job_id, _due(now))
                .values(
                    state=JobState.running,
                    attempts=col(Job.attempts) + 1,
                    locked_until=now + LEASE,
                )
                .returning(col(Job.kind), col(Job.payload), col(Job.attempts)),
                execution_options={"synchronize_session": False},
            ).one_or_none()
        if row is None:
            return None
        kind, payload, attempt = row
        return Claim(tenant_id, job_id, kind, dict(payload or {}), attempt)

    def _run_claimed(self, claim: Claim, handler: Handler, now: datetime) -> None:
        context = JobContext(
            tenant_id=claim.tenant_id,
            id=claim.job_id,
            kind=claim.kind,
            payload=claim.payload,
            attempt=claim.attempt,
            settings=self.settings,
            now=now,
        )
        session = new_session(self.engine)
        bind_tenant(session, claim.tenant_id)
        try:
            with unit_of_work(session):
                try:
                    handler.run(session, context)
                except RetryLater as error:
                    # The attempt's writes stand, and the retry is written with them.
                    self._after_failure(session, claim, handler, error)
                    return
                self._settle(session, claim, state=JobState.done, error=None)
        except LostClaim:
            logger.warning(
                "job %s (tenant %s): lease lost, its writes dropped", claim.job_id, claim.tenant_id
            )
        except Exception as error:
            with unit_of_work(new_session(self.engine)) as retry_session:
                bind_tenant(retry_session, claim.tenant_id)
                self._after_failure(retry_session, claim, handler, error)

    def _after_failure(
        self, session: Session, claim: Claim, handler: Handler, error: BaseException
    ) -> None:
        if claim.attempt >= handler.attempts:
            logger.error(
                "job %s %s (tenant %s) failed (%s) after %d attempts; giving up",
                claim.kind,
                claim.job_id,
                claim.tenant_id,
                type(error).__name__,
                claim.attempt,
            )
            self._settle(session, claim, state=JobState.failed, error=_short(error))
            return
        run_at = utcnow() + handler.retry_delay(claim.attempt)
        logger.warning(
            "job %s %s (tenant %s) failed (%s), attempt %d of %d; retrying at %s",
            claim.kind,
            claim.job_id,
            claim.tenant_id,
            type(error).__name__,
            claim.attempt,
            handler.attempts,
            run_at.isoformat(timespec="seconds"),
        )
        self._settle(session, claim, state=JobState.pending, error=_short(error), run_at=run_at)
        announce_after_commit(session, Announcement(claim.tenant_id, claim.job_id, run_at))

    def _give_up(self, claim: Claim, reason: str) -> None:
        logger.error(
            "job %s %s (tenant %s): %s; failed", claim.kind, claim.job_id, claim.tenant_id, reason
        )
        with unit_of_work(new_session(self.engine)) as session:
            bind_tenant(session, claim.tenant_id)
            self._settle(session, claim, state=JobState.failed, error=reason)

    def _settle(
        self,
        session: Session,
        claim: Claim,
        *,
        state: JobState,
        error: str | None,
        run_at: datetime | None = None,
    ) -> None:
        """Record the attempt's outcome, if the claim still holds (else LostClaim)."""
        values: dict[str, object] = {"state": state, "locked_until": None, "last_error": error}
        if run_at is not None:
            values["run_at"] = run_at
        if state in (JobState.done, JobState.failed):
            values["finished_at"] = utcnow()
        result = session.execute(
            sa.update(Job)
            .where(
                col(Job.id) == claim.job_id,
                col(Job.state) == JobState.running,
                col(Job.attempts) == claim.attempt,
            )
            .values(values),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LostClaim(str(claim.job_id))


def run_due(engine: Engine, settings: Settings, *, now: datetime | None = None) -> int:
    """Run every due job of every blog in this thread (tests, `blog worker --once`)."""
    return Runner(engine, settings).run_due(now=now)
