"""The queue that carries job announcements to workers: Huey, on SQLite or Redis.

The jobs themselves live in the database (:mod:`blog.jobs.models`); Huey carries only
"job ``id`` of blog ``tenant`` is due at ``t``", runs the worker processes and their
threads, waits for scheduled times and fires the periodic sweep. ``BLOG_JOBS_URL`` says
where announcements travel:

* ``sqlite:///path`` (the embedded default): a file beside the database; needs nothing.
* ``redis://host:port/db``: Redis, for several servers and workers.
* ``memory://``: inside one process (tests; a web process with no worker).
"""

import logging
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy.engine import Connection, Engine

from blog.database import utcnow

logger = logging.getLogger(__name__)

RUN_TASK = "blog.jobs.run"
SWEEP_TASK = "blog.jobs.sweep"


class JobsUrlError(ValueError):
    """``BLOG_JOBS_URL`` names no queue this can use."""


def make_huey(url: str, name: str) -> Huey:
    """The Huey instance ``url`` names (see the module's docstring), queue ``name``."""
    if url.startswith("sqlite:///"):
        return SqliteHuey(name, filename=url.removeprefix("sqlite:///"), results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False)
    if url == "memory://":
        return MemoryHuey(name, results=False)
    raise JobsUrlError(
        f"BLOG_JOBS_URL must start with sqlite:///, redis:// or be memory:// (got {url!r})"
    )


class JobQueue:
    """Huey with this app's two tasks: run one job, and sweep for due ones.

    ``run_job`` and ``sweep`` are what the tasks call in a worker process
    (:class:`blog.jobs.runner.Runner` provides them); a web process only announces.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "blog",
        run_job: Callable[[uuid.UUID, uuid.UUID], object] | None = None,
        sweep: Callable[[], object] | None = None,
    ) -> None:
        self.huey = make_huey(url, name)
        self._run_job = run_job
        self._sweep = sweep
        self._run_task = self.huey.task(name=RUN_TASK)(self._run)
        self.huey.periodic_task(crontab(minute="*"), name=SWEEP_TASK)(self._sweep_now)

    def announce(self, tenant_id: uuid.UUID, job_id: uuid.UUID, run_at: datetime) -> None:
        """Tell a worker that the job is due at ``run_at``. Never raises: a lost
        announcement only delays the job until the next sweep."""
        args = (str(tenant_id), str(job_id))
        delay = (run_at - utcnow()).total_seconds()
        try:
            if delay > 0:
                self._run_task.schedule(args=args, delay=delay)
            else:
                self._run_task(*args)
        except Exception as error:  # the queue is down: the sweep will find the job
            logger.warning(
                "job %s (tenant %s) not announced (%s); the sweep will run it",
                job_id,
                tenant_id,
                type(error).__name__,
            )

    def _run(self, tenant_id: str, job_id: str) -> None:
        if self._run_job is None:
            raise RuntimeError("this process only announces jobs; run them with `blog worker`")
        self._run_job(uuid.UUID(tenant_id), uuid.UUID(job_id))

    def _sweep_now(self) -> None:
        if self._sweep is not None:
            self._sweep()

    def consumer(self, *, workers: int) -> Any:
        """A Huey consumer running the tasks on ``workers`` threads."""
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=True)


_QUEUES: "weakref.WeakKeyDictionary[Engine, JobQueue]" = weakref.WeakKeyDictionary()


def attach_queue(engine: Engine, queue: JobQueue) -> None:
    """Announce jobs committed through ``engine`` on ``queue``."""
    _QUEUES[engine] = queue


def detach_queue(engine: Engine) -> None:
    _QUEUES.pop(engine, None)


def queue_for(bind: Engine | Connection) -> JobQueue | None:
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _QUEUES.get(engine)
