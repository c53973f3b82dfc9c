"""What each kind of job does: handlers register here by name, with their retry policy."""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from blog.database import KeepChangesError
from blog.settings import Settings


class RetryLater(KeepChangesError):
    """Raised by a handler whose attempt failed but whose writes must stand (a webhook
    delivery's log of the attempt): they commit, and the job is tried again later."""


@dataclass(frozen=True)
class JobContext:
    """What a handler is given besides its session (which is bound to ``tenant_id``)."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int  # 1 for the first run
    settings: Settings
    now: datetime  # the time it runs as of (tests run jobs "later")


JobFunction = Callable[[Session, JobContext], None]


@dataclass(frozen=True)
class Handler:
    """A kind of job: its function and how often, how patiently, it is retried.

    The wait before attempt n+1 is ``backoff_seconds * 2**(n-1)``, capped at
    ``max_backoff_seconds``, then jittered by ±25% so a burst of failures (an endpoint
    down) does not retry in lockstep.
    """

    kind: str
    run: JobFunction
    attempts: int
    backoff_seconds: float
    max_backoff_seconds: float

    def retry_delay(self, attempt: int) -> timedelta:
        base = min(self.backoff_seconds * 2.0 ** (attempt - 1), self.max_backoff_seconds)
        return timedelta(seconds=base * random.uniform(0.75, 1.25))  # noqa: S311 (not crypto)


HANDLERS: dict[str, Handler] = {}


def handler(
    kind: str,
    *,
    attempts: int = 5,
    backoff_seconds: float = 10.0,
    max_backoff_seconds: float = 3600.0,
) -> Callable[[JobFunction], JobFunction]:
    """Register ``function`` as what jobs of ``kind`` do.

    The function gets a session bound to the job's tenant; its writes commit together
    with the job's completion (so a job whose effect is in the database has it exactly
    once). An exception rolls them back and schedules a retry (:class:`RetryLater`
    keeps them); after ``attempts`` runs the job is failed.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def register(function: JobFunction) -> JobFunction:
        if kind in HANDLERS:
            raise ValueError(f"a handler for {kind!r} is already registered")
        HANDLERS[kind] = Handler(kind, function, attempts, backoff_seconds, max_backoff_seconds)
        return function

    return register
