"""What is known about the request being served, for its log line (and metrics).

The outermost middleware (:mod:`blog.observability.middleware`) makes one
:class:`RequestContext` per request and puts it in a context variable; code deeper in
fills it in as it learns (the blog the path names, the caller) without extra queries.
The variable holds a mutable object, so what a dependency records is seen by the
middleware afterwards, even from a worker thread (threads get a copy of the context,
which refers to the same object).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RequestContext:
    """One request, as its log line reports it."""

    request_id: str
    tenant: str | None = None  # the blog's slug
    user_id: str | None = None  # the caller, when a token or key named one


_current: ContextVar[RequestContext | None] = ContextVar("blog_request", default=None)


def begin_request(request_id: str) -> tuple[RequestContext, Token[RequestContext | None]]:
    """Start serving a request: its context, and the token that ends it."""
    context = RequestContext(request_id)
    return context, _current.set(context)


def end_request(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def current() -> RequestContext | None:
    """The request being served, or None (a command, a job, a test arranging data)."""
    return _current.get()


def request_id() -> str | None:
    """The id of the request being served (as in its ``X-Request-ID``), or None."""
    context = _current.get()
    return None if context is None else context.request_id


def note_tenant(slug: str) -> None:
    """Record the blog the request is about."""
    context = _current.get()
    if context is not None:
        context.tenant = slug


def note_user(user_id: Any) -> None:
    """Record who is calling (a user's id)."""
    context = _current.get()
    if context is not None:
        context.user_id = str(user_id)


@dataclass(frozen=True, slots=True)
class JobLabel:
    """The background job being run, for the log lines logged while it runs."""

    job_id: str
    tenant_id: str


_job: ContextVar[JobLabel | None] = ContextVar("blog_job", default=None)


def current_job() -> JobLabel | None:
    return _job.get()


@contextmanager
def running_job(*, job_id: Any, tenant_id: Any) -> Iterator[None]:
    """Label the log lines logged inside with this job and its blog."""
    token = _job.set(JobLabel(str(job_id), str(tenant_id)))
    try:
        yield
    finally:
        _job.reset(token)
