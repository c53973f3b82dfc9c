"""The jobs table: the outbox every background job is written to, in its change's transaction."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped

KIND_MAX_LENGTH = 64
KEY_MAX_LENGTH = 200
ERROR_MAX_LENGTH = 200


class JobState(StrEnum):
    pending = "pending"  # waiting for run_at
    running = "running"  # claimed by a worker until locked_until
    done = "done"
    failed = "failed"  # attempts used up


class Job(TenantScoped, table=True):
    """One job of one blog. Written in the transaction of the change it comes from, so a
    rolled-back change never runs it and a committed one always does (at least once).

    ``key`` (with ``kind``) is the idempotency key: asking twice for the same work makes
    one job. ``attempts`` counts the claims; a worker's writes count only while its claim
    (that attempt number) still holds.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "kind", "key"),
        # The sweep: due jobs of every blog, oldest first.
        sa.Index(None, "state", "run_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    kind: str = Field(max_length=KIND_MAX_LENGTH)
    key: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    state: JobState = Field(
        default=JobState.pending,
        sa_type=sa.Enum(
            JobState,
            name="job_state",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda states: [state.value for state in states],
        ),
        sa_column_kwargs={"server_default": JobState.pending.value},
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=ERROR_MAX_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
