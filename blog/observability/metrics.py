"""Prometheus metrics: what the server does, at ``GET /metrics``.

One set of metric objects per process. With several worker processes (``blog serve
--workers N``) they live in prometheus-client's multiprocess mode: ``blog serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, each worker
writes its values to its own files there, and a scrape (answered by whichever worker)
adds up every worker's files. A single process keeps them in memory. Either way the
same objects are counted the same way; only the scrape reads them differently.

Everything is labelled by bounded values only: route templates, never raw paths; an
API's name, never a user or an address.
"""

import atexit
import glob
import hmac
import ipaddress
import logging
import os
import re
import shutil
import tempfile
import weakref
from typing import Any

import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Scope

from blog.settings import Settings

logger = logging.getLogger(__name__)

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
# The route label of an answer made without a route: an unknown path (404), a CORS
# preflight, a body refused before routing (413).
UNMATCHED = "<unmatched>"

# ``_created`` series exist in a single process only: leave them out, so one process and
# many expose the same series.
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUEST_SECONDS = Histogram(
    "blog_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte; its _count counts requests.",
    ["method", "route", "status"],
    # Cached answers take well under a millisecond; slow ones a few seconds.
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_CACHE_REQUESTS = Counter(
    "blog_response_cache_requests",
    "GETs under a blog's path the response cache looked up: hit (stored answer), shared "
    "(a shared body with the reader's marks) or miss (answered by the app).",
    ["result"],
)
CACHE_HIT = _CACHE_REQUESTS.labels("hit")
CACHE_SHARED = _CACHE_REQUESTS.labels("shared")
CACHE_MISS = _CACHE_REQUESTS.labels("miss")
RATE_LIMIT_REFUSALS = Counter(
    "blog_rate_limit_refusals", "Requests refused (429) by a rate limit.", ["limit"]
)
LOGINS = Counter(
    "blog_logins",
    "Password logins by API (native, realworld) and result (success, failure, locked).",
    ["api", "result"],
)
# Gauges are written as connections come and go, not read at scrape time: a scrape
# reaches one worker, and only what every worker wrote can be added up. "livesum": the
# sum over the workers alive, so one process and many expose the same series.
_POOL_CHECKED_OUT = Gauge(
    "blog_db_pool_checked_out",
    "Database connections in use (checked out of the pool), all workers together.",
    ["pool"],
    multiprocess_mode="livesum",
)
_POOL_SIZE = Gauge(
    "blog_db_pool_size",
    "Connections each pool keeps open, all workers together (QueuePool only).",
    ["pool"],
    multiprocess_mode="livesum",
)
_POOL_MAX_OVERFLOW = Gauge(
    "blog_db_pool_max_overflow",
    "Connections a pool may open beyond its size when busy, all workers together "
    "(QueuePool with a bounded overflow only).",
    ["pool"],
    multiprocess_mode="livesum",
)

_instrumented: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def instrument_pool(engine: Engine, name: str) -> None:
    """Count ``engine``'s connections in use as ``pool=name``, and publish its size.

    Idempotent per engine (tests build many apps on one engine). The listeners stay with
    the engine across ``dispose()``, which hands them to the new pool.
    """
    if engine in _instrumented:
        return
    _instrumented.add(engine)
    checked_out = _POOL_CHECKED_OUT.labels(name)

    def on_checkout(*_: Any) -> None:
        checked_out.inc()

    def on_checkin(*_: Any) -> None:
        checked_out.dec()

    sa.event.listen(engine, "checkout", on_checkout)
    sa.event.listen(engine, "checkin", on_checkin)
    pool = engine.pool
    if isinstance(pool, sa.pool.QueuePool):
        _POOL_SIZE.labels(name).set(pool.size())
        if pool._max_overflow >= 0:  # -1: unbounded (the SQLite lookup pool)
            _POOL_MAX_OVERFLOW.labels(name).set(pool._max_overflow)


# Where the response cache leaves the route of an answer it makes from memory.
ROUTE_KEY = "blog.route"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request and its duration (called once per request by the request log's
    middleware, :mod:`blog.observability.middleware`, which wraps everything: answers made
    before routing count too, the response cache's under the route of the answer they copy
    (:data:`ROUTE_KEY`), the others as :data:`UNMATCHED`)."""
    REQUEST_SECONDS.labels(method, route, status).observe(seconds)


def route_template(scope: Scope, root_app: Any) -> str:
    """The path template of the route that answered, after routing: with the prefixes of
    the routers it was included in, and the template of the mount it is under (the
    RealWorld API's ``/conduit/{tenant}/api``). ``root_app``: ``scope["app"]`` as it was
    before routing (the app the request came to)."""
    route = scope.get("route")
    if route is None or isinstance(route, Mount):
        return UNMATCHED
    # FastAPI (0.137 on) routes into included routers lazily: scope["route"] is the route
    # as its router declared it, without the prefixes; the template it matched by is on
    # the effective route FastAPI keeps in the scope. tests/test_metrics.py says if it
    # moves.
    effective = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(effective, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    app = scope.get("app")
    if app is root_app or app is None:
        return path
    return _mount_path(root_app, app) + path


_mount_paths: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def _mount_path(root_app: Any, app: Any) -> str:
    """The template ``app`` is mounted at in ``root_app``."""
    if app not in _mount_paths:
        _mount_paths[app] = next(
            (
                route.path
                for route in getattr(root_app, "routes", ())
                if isinstance(route, Mount) and route.app is app
            ),
            "",
        )
    return _mount_paths[app]


def _client_ip(request: Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if request.client is None:
        return None
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _presented_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def may_scrape(request: Request) -> bool:
    """Whether this caller may read the metrics (the rule is in the README, Metrics):
    from an address in ``BLOG_METRICS_ALLOW``, and with ``BLOG_METRICS_TOKEN`` as a bearer
    token when one is set. In production, never without a token."""
    settings: Settings = request.app.state.settings
    address = _client_ip(request)
    if address is None or not any(address in network for network in settings.metrics_allow):
        return False
    if settings.metrics_token is None:
        return settings.environment != "production"
    presented = _presented_token(request)
    expected = settings.metrics_token.get_secret_value()
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


async def metrics_endpoint(request: Request) -> Response:
    """The metrics in Prometheus' text format, to those :func:`may_scrape` admits. Anyone
    else gets the app's ordinary 404, as if there were no such path."""
    if not may_scrape(request):
        raise HTTPException(404)
    body = await run_in_threadpool(generate_latest, _registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _registry() -> CollectorRegistry:
    """This process's registry, or one adding up every worker's files."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if not directory:
        return REGISTRY
    _forget_dead_workers(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that died without saying so (killed; the server
    starts another): a worker that stops normally does it itself (:func:`process_exiting`).
    Their counters stay: counts never go down."""
    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        found = _LIVE_GAUGE_FILE.match(os.path.basename(path))
        if found is None:
            continue
        pid = int(found[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, as another user


def check_process_mode() -> None:
    """Refuse to run with half a setup: ``PROMETHEUS_MULTIPROC_DIR`` set after
    prometheus-client was imported leaves the values in memory, where no scrape sees them."""
    if os.environ.get(MULTIPROCESS_VARIABLE) and not getattr(
        values.ValueClass, "_multiprocess", False
    ):
        raise RuntimeError(
            f"{MULTIPROCESS_VARIABLE} was set after prometheus-client was imported; set it "
            "in the environment before the server starts"
        )


def process_exiting() -> None:
    """A worker that stops takes its live gauges (connections in use) with it."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if directory:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def share_between_workers(workers: int) -> None:
    """Before a server of ``workers`` processes starts: with more than one, a fresh
    multiprocess directory for them, named in the environment they inherit and removed
    when this process exits. One worker is served in this very process, which has
    imported prometheus-client already: it keeps its values in memory, as it may. A
    directory the operator named is used as it is (wiping it between runs is theirs)."""
    if workers <= 1 or os.environ.get(MULTIPROCESS_VARIABLE):
        return
    directory = tempfile.mkdtemp(prefix="blog-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
