"""What do the request metrics cost? A cached GET in-process, with and without them.

    python -m bench.metrics_overhead                  # 20 blocks of 500 requests each way
    python -m bench.metrics_overhead --multiprocess   # as under `blog serve --workers N`

One app, on one SQLite database, in one run, with the request metrics and without them
(``metrics.observe_request``, which the request log's middleware calls, swapped for a
no-op during those blocks): blocks of requests alternate between the two so the machine's load
hits both alike. Each request is ``GET /api/v1/tenants/{tenant}/posts`` answered from
the response cache (the cheapest answer the app gives, so the one where the metrics weigh
most), through httpx's ``ASGITransport`` (no network). ``--multiprocess`` first points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory, so values go to files as with several
workers. The cache's own hit counter runs in both apps.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECRET = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 - a throwaway app's


async def _block(client: object, url: str, requests: int) -> float:
    """CPU microseconds of this process per request, over ``requests`` sequential GETs
    (CPU time, not wall time: other processes' load on a shared machine stays out)."""
    get = client.get  # type: ignore[attr-defined]
    start = time.process_time()
    for _ in range(requests):
        response = await get(url)
        if response.headers.get("x-cache") != "hit":
            raise SystemExit(f"not a cache hit: {response.status_code}")
    return (time.process_time() - start) / requests * 1e6


async def measure(blocks: int, requests: int, folder: Path) -> None:
    import httpx2 as httpx

    from blog.app import create_app
    from blog.database import create_db_engine, new_session
    from blog.models import metadata
    from blog.observability import metrics
    from blog.settings import Settings
    from blog.tenancy import cross_tenant
    from blog.testing import factories

    url = f"sqlite:///{folder / 'metrics.db'}"
    engine = create_db_engine(url)
    metadata.create_all(engine)
    with new_session(engine) as session, cross_tenant(session, "arranging bench data"):
        factories.bind_session(session)
        tenant = factories.TenantFactory.create()
        author = factories.UserFactory.create(tenant=tenant)
        for _ in range(10):
            factories.PostFactory.create(author=author)
        slug = tenant.slug
        factories.bind_session(None)
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        secret_key=SECRET,  # type: ignore[arg-type]
        jobs_url="memory://",
    )
    app = create_app(settings, engine=engine)
    observe = metrics.observe_request
    observers = {"with metrics": observe, "without": lambda *_: None}
    path = f"/api/v1/tenants/{slug}/posts"
    times: dict[str, list[float]] = {"with metrics": [], "without": []}
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)), base_url="http://test"
    )
    for _ in range(3):  # stored on the second sighting
        await client.get(path)
    await _block(client, path, 200)  # warm up
    for number in range(blocks):
        order = list(observers.items())
        for name, observer in order if number % 2 else reversed(order):
            metrics.observe_request = observer
            times[name].append(await _block(client, path, requests))
    metrics.observe_request = observe
    await client.aclose()
    app.state.background.close(5)
    engine.dispose()

    mode = "multiprocess (files)" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "in memory"
    print(f"cached GET {path.replace(slug, '{tenant}')}, metrics {mode}")
    print(f"  {blocks} blocks of {requests} requests each way, interleaved")
    print(f"  {'':<14} {'median CPU µs':>14} {'min':>8}")
    for name, values in times.items():
        print(f"  {name:<14} {statistics.median(values):>14.1f} {min(values):>8.1f}")
    ratio = statistics.median(times["with metrics"]) / statistics.median(times["without"])
    extra = statistics.median(times["with metrics"]) - statistics.median(times["without"])
    print(f"  ratio (with / without): {ratio:.3f}; {extra:.1f} µs a request")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--multiprocess", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.multiprocess:
            if "prometheus_client" in sys.modules:
                raise SystemExit("prometheus-client was imported before its directory was set")
            (Path(folder) / "metrics").mkdir()
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(folder) / "metrics")
        asyncio.run(measure(args.blocks, args.requests, Path(folder)))


if __name__ == "__main__":
    main()
