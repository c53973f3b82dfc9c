"""What do traces cost? The same GETs in-process, with tracing off and on.

    python -m bench.tracing_overhead                          # SQLite, 20 blocks of 200
    python -m bench.tracing_overhead --postgres postgresql://postgres@127.0.0.1:5432/x

Two apps on one database, in one run: one built with no ``OTEL_*`` variable (tracing off,
as by default) and one with tracing on, its spans batched (as in production) to an exporter
that drops them. Blocks of requests alternate between them so the machine's load hits both
alike. The response cache is off, so every request runs its SQL (a span per statement).
Requests go through httpx's ``ASGITransport`` (no network). ``--postgres`` names an empty
database (its tables are made there, as the owner) instead of a temporary SQLite file.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SECRET = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 - a throwaway app's


async def _block(client: Any, url: str, requests: int) -> float:
    """CPU microseconds of this process (every thread: the span exporter's too) per
    request, over ``requests`` sequential GETs."""
    start = time.process_time()
    for _ in range(requests):
        response = await client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
    return (time.process_time() - start) / requests * 1e6


async def measure(url: str, blocks: int, requests: int) -> None:
    import httpx2 as httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from blog.app import create_app
    from blog.database import create_db_engine, new_session
    from blog.models import metadata
    from blog.observability import tracing
    from blog.settings import Settings
    from blog.tenancy import cross_tenant
    from blog.testing import factories

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:  # noqa: ARG002
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        del os.environ[name]

    owner = create_db_engine(url)
    metadata.create_all(owner)
    with new_session(owner) as session, cross_tenant(session, "arranging bench data"):
        factories.bind_session(session)
        tenant = factories.TenantFactory.create()
        author = factories.UserFactory.create(tenant=tenant)
        posts = [factories.PostFactory.create(author=author) for _ in range(10)]
        paths = {
            "post list": f"/api/v1/tenants/{tenant.slug}/posts",
            "one post": f"/api/v1/tenants/{tenant.slug}/posts/by-slug/{posts[0].slug}",
        }
        factories.bind_session(None)
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        secret_key=SECRET,  # type: ignore[arg-type]
        jobs_url="memory://",
        response_cache_mb=0,
        rate_limits_enabled=False,
        log_level="WARNING",
    )
    off = create_app(settings, engine=create_db_engine(url))
    os.environ["OTEL_TRACES_EXPORTER"] = "otlp"  # what switches it on; the provider is ours
    tracing.tracer_provider = lambda: provider  # type: ignore[assignment]
    on = create_app(settings, engine=create_db_engine(url))
    del os.environ["OTEL_TRACES_EXPORTER"]

    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 1)),
            base_url="http://test",
        )
        for name, app in (("off", off), ("on", on))
    }
    print(f"{url.split(':')[0]}, {blocks} blocks of {requests} requests each way, interleaved")
    print(f"  {'':<10} {'off µs':>8} {'on µs':>8} {'ratio':>6} {'extra µs':>9}")
    for label, path in paths.items():
        for client in clients.values():
            await _block(client, path, 50)  # warm up
        times: dict[str, list[float]] = {"off": [], "on": []}
        for number in range(blocks):
            order = list(clients.items())
            for name, client in order if number % 2 else reversed(order):
                times[name].append(await _block(client, path, requests))
        off_us, on_us = statistics.median(times["off"]), statistics.median(times["on"])
        ratio, extra = on_us / off_us, on_us - off_us
        print(f"  {label:<10} {off_us:>8.0f} {on_us:>8.0f} {ratio:>6.2f} {extra:>9.0f}")
    for client in clients.values():
        await client.aclose()
    for app in (off, on):
        app.state.background.close(5)
        app.state.engine.dispose()
    provider.shutdown()
    owner.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite:///{Path(folder) / 'tracing.db'}"
        asyncio.run(measure(url, args.blocks, args.requests))


if __name__ == "__main__":
    main()
