"""Work done after the response, off the request's thread: one bounded queue per process.

A request that must send mail commits its change and hands the sending to
:class:`BackgroundWork`, so a slow or dead mail server never holds up (or undoes) the
change. One daemon thread, started at the first submit, runs the jobs in turn; a job that
raises is tried again after a short, doubling delay, up to its ``attempts``.

The queue is **in memory**: work still queued when the process dies is lost. What queued
it (an account change, say) is already committed; the user can ask again (a new
verification mail, a new reset link). The durable job store of the publishing issue will
replace this module; until then its interface (:class:`Job`, ``submit``, ``drain``,
``close``) is what callers may rely on.

Every job names its own tenant (or ``None`` for platform work). A job binds its own
tenant; it never inherits another's: nothing here carries a request's or a previous
job's tenant into the next job.

Logs name a job and its tenant, never its payload: a mail holds a sign-in or reset token.
"""

import heapq
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 1000
DEFAULT_RETRY_DELAY_SECONDS = 2.0


@dataclass(frozen=True)
class Job:
    """One piece of work: ``run`` is called with no arguments, in the worker thread.

    ``run`` must open its own session (bound to ``tenant_id``) if it needs the database;
    it must not touch objects of the request that submitted it.
    """

    name: str
    tenant_id: uuid.UUID | None
    run: Callable[[], None]
    attempts: int = 3


@dataclass(frozen=True, order=True)
class _Attempt:
    due: float
    sequence: int
    job: Job = field(compare=False)
    number: int = field(default=1, compare=False)


class BackgroundWork:
    """A bounded queue of :class:`Job` served by one daemon thread.

    ``max_size`` bounds the jobs outstanding (queued, running or waiting to be retried):
    past it, ``submit`` refuses rather than let memory grow or the caller wait.
    ``retry_delay_seconds`` is the wait before the second attempt; it doubles after each.
    """

    def __init__(
        self,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._max_size = max_size
        self._retry_delay = retry_delay_seconds
        self._changed = threading.Condition()
        self._ready: deque[_Attempt] = deque()
        self._retries: list[_Attempt] = []  # a heap, by due time
        self._outstanding = 0
        self._sequence = 0
        self._worker: threading.Thread | None = None

    def submit(self, job: Job) -> bool:
        """Queue ``job``; never blocks. False (and a warning) when the queue is full: the
        caller's own change stands, only this job is dropped."""
        with self._changed:
            if self._outstanding >= self._max_size:
                logger.warning(
                    "background queue full (%d jobs); job %s (tenant %s) dropped",
                    self._outstanding,
                    *_who(job),
                )
                return False
            self._outstanding += 1
            self._ready.append(_Attempt(due=0.0, sequence=self._next_sequence(), job=job))
            self._start_worker()
            self._changed.notify_all()
        return True

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted job has finished, retries included; False if some
        were still outstanding after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._outstanding == 0, timeout)

    def close(self, timeout: float) -> bool:
        """Drain (up to ``timeout`` seconds), then stop the worker. False when jobs were
        left waiting: they are dropped (and counted in a warning). A job still running
        finishes without retries. A later submit starts a new worker, as the first did
        (an app whose lifespan runs again)."""
        deadline = time.monotonic() + timeout
        drained = self.drain(timeout)
        with self._changed:
            worker, self._worker = self._worker, None
            dropped = len(self._ready) + len(self._retries)
            self._ready.clear()
            self._retries.clear()
            self._outstanding -= dropped
            self._changed.notify_all()
        if dropped:
            logger.warning("background work stopped with %d jobs not done; dropped", dropped)
        if worker is not None:
            worker.join(max(0.0, deadline - time.monotonic()))
        return drained

    @property
    def outstanding(self) -> int:
        """Jobs submitted and not yet finished (retries included)."""
        with self._changed:
            return self._outstanding

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._serve, name="blog-background", daemon=True)
            self._worker.start()

    def _serve(self) -> None:
        while True:
            with self._changed:
                attempt = self._take()
            if attempt is None:
                return
            self._run(attempt)

    def _serving(self) -> bool:
        """Whether the calling thread is the current worker (not one ``close`` stopped)."""
        return self._worker is threading.current_thread()

    def _take(self) -> _Attempt | None:
        """The next attempt due (retries first, so a busy queue cannot starve them), or
        None once this worker is stopped. Called holding the lock; waits on it."""
        while self._serving():
            now = time.monotonic()
            if self._retries and self._retries[0].due <= now:
                return heapq.heappop(self._retries)
            if self._ready:
                return self._ready.popleft()
            self._changed.wait(self._retries[0].due - now if self._retries else None)
        return None

    def _run(self, attempt: _Attempt) -> None:
        retry_in: float | None = None
        try:
            attempt.job.run()
        except Exception as error:
            retry_in = self._failed(attempt, error)
        finally:
            with self._changed:
                if retry_in is None or not self._serving():
                    self._outstanding -= 1
                else:
                    retry = replace(
                        attempt,
                        due=time.monotonic() + retry_in,
                        sequence=self._next_sequence(),
                        number=attempt.number + 1,
                    )
                    heapq.heappush(self._retries, retry)
                self._changed.notify_all()

    def _failed(self, attempt: _Attempt, error: Exception) -> float | None:
        """Log a failed attempt; the delay before the next one (None: given up).

        Only the error's type is logged: its message may quote the payload (an address,
        a link with its token).
        """
        job = attempt.job
        if attempt.number < job.attempts:
            delay = self._retry_delay * 2.0 ** (attempt.number - 1)
            logger.warning(
                "job %s (tenant %s) failed (%s), attempt %d of %d; retrying in %.3g s",
                *_who(job),
                type(error).__name__,
                attempt.number,
                job.attempts,
                delay,
            )
            return delay
        logger.error(
            "job %s (tenant %s) failed (%s) after %d attempts; giving up",
            *_who(job),
            type(error).__name__,
            attempt.number,
        )
        return None


def _who(job: Job) -> tuple[str, str]:
    return job.name, str(job.tenant_id) if job.tenant_id else "-"
