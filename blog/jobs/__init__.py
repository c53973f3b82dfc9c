"""Background jobs: written to the database in their change's transaction, run by workers.

* :func:`enqueue` writes a job (the outbox); :func:`handler` registers what a kind does.
* :mod:`blog.jobs.runner` claims, runs and retries them; :mod:`blog.jobs.queue` carries
  announcements to workers (Huey, on SQLite or Redis); ``blog worker`` runs them.
"""

from blog.jobs.outbox import enqueue
from blog.jobs.registry import JobContext, RetryLater, handler

__all__ = ["JobContext", "RetryLater", "enqueue", "handler"]
