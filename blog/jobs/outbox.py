"""Enqueueing: a job is a row written in the caller's transaction (the outbox).

So a rolled-back change never runs its jobs and a committed one always does. Once the
outermost transaction commits, its jobs are announced to the queue (:mod:`blog.jobs.queue`)
so a worker starts them at once (or at their time); an announcement lost with its
process costs only latency, since the worker's sweep finds every due job in the table.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from blog.database import insert_ignoring_conflicts, utcnow, uuid7
from blog.jobs.models import Job
from blog.jobs.queue import queue_for
from blog.jobs.registry import HANDLERS
from blog.tenancy import TenantScopeError, bound_tenant

ANNOUNCE = "blog.jobs.announce"  # session.info: jobs to announce once committed


@dataclass(frozen=True)
class Announcement:
    tenant_id: uuid.UUID
    job_id: uuid.UUID
    run_at: datetime


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    key: str | None = None,
) -> uuid.UUID:
    """Write a job of ``kind`` for the session's blog, to run at ``run_at`` (now if
    None) once this transaction commits. With a ``key``, a job of the same kind and key
    already written (by anyone, committed or not yet) is the job: its id is returned and
    nothing new is written."""
    tenant_id = bound_tenant(session)
    if tenant_id is None:
        raise TenantScopeError("a job names its blog: enqueue in a session bound to one")
    if kind not in HANDLERS:
        raise ValueError(f"no handler is registered for jobs of kind {kind!r}")
    job_id = uuid7()
    when = run_at or utcnow()
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "id": job_id,
        "kind": kind,
        "key": key,
        "payload": payload,
        "run_at": when,
        "created_at": utcnow(),
    }
    if key is None:
        session.execute(sa.insert(Job).values(row))
    else:
        insert_ignoring_conflicts(session, Job, [row], key=["tenant_id", "kind", "key"])
        job_id = session.exec(
            select(Job.id).where(col(Job.kind) == kind, col(Job.key) == key)
        ).one()
    announce_after_commit(session, Announcement(tenant_id, job_id, when))
    return job_id


def announce_after_commit(session: OrmSession, announcement: Announcement) -> None:
    session.info.setdefault(ANNOUNCE, []).append(announcement)


@sa.event.listens_for(OrmSession, "after_commit")
def _announce(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its jobs wait for the outer commit
    announcements: list[Announcement] = session.info.pop(ANNOUNCE, [])
    if not announcements:
        return
    queue = queue_for(session.get_bind())
    if queue is None:
        return  # nobody to tell here: the worker's sweep finds them
    for announcement in announcements:
        queue.announce(announcement.tenant_id, announcement.job_id, announcement.run_at)


@sa.event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: OrmSession, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit: its rows are gone, and so is any
    # reason to announce them. (A rolled-back savepoint's announcements may stay: a
    # worker told of a job that does not exist finds nothing to claim.)
    if transaction.parent is None:
        session.info.pop(ANNOUNCE, None)
