"""Seeding benchmark: the seeder against a bare driver executemany of the same rows.

    python -m bench.seed_speed                         # SQLite, 1,000,000 posts
    python -m bench.seed_speed --posts 200000          # smaller
    python -m bench.seed_speed --postgres postgresql://postgres@127.0.0.1:5432/test

For each database, in one run on this machine:
  * the seeder (``blog.seeding.seed``) writes one blog of N posts (+ their tag links)
    into a freshly migrated database, timed whole: generation, encoding, SQLAlchemy;
  * the baseline inserts the very same rows (same generator, same batches, same
    schema and indexes) through a bare driver connection (sqlite3 / psycopg), timing
    only the executemany calls;
  * peak RSS of a seeder process for 100k and for 1M posts (SQLite), to show memory
    stays flat (streamed batches).
Figures vary with the machine's load: compare the ratio, not the absolute numbers.
"""

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from blog.auth.security import PasswordHasher
from blog.bulk import BulkInsert
from blog.cli import alembic_config
from blog.database import create_db_engine, normalize_database_url
from blog.posts.models import Post, PostTag, Tag
from blog.seeding import _NATIVE, _SQLITE, Row, SeedPlan, _TenantSeeder, seed
from blog.tenants.models import Tenant
from blog.users.models import User

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USERS = 1_000


def plan_for(posts: int) -> SeedPlan:
    return SeedPlan(tenants=1, users_per_tenant=USERS, posts_per_user=max(1, posts // USERS))


def migrated_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}"
    command.upgrade(alembic_config(url), "head")
    return url


def fresh_postgres(server_url: str) -> str:
    name = f"blog_bench_{uuid.uuid4().hex[:8]}"
    plain = make_url(normalize_database_url(server_url)).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = plain.set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "head")
    return url


def drop_postgres(url: str) -> None:
    parsed = make_url(url)
    server = parsed.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def run_seeder(url: str, plan: SeedPlan) -> tuple[int, float]:
    engine = create_db_engine(url)
    try:
        started = time.perf_counter()
        report = seed(engine, plan, hasher=PasswordHasher(rounds=4), now=NOW)
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    return sum(report.rows.values()) + 1, elapsed


def run_baseline(url: str, plan: SeedPlan) -> tuple[int, float]:
    """The same rows through a bare driver connection; only executemany is timed."""
    sqlite = url.startswith("sqlite")
    if sqlite:
        connection: Any = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN IMMEDIATE")
    else:
        connection = psycopg.connect(url)
    marker = "?" if sqlite else "%s"
    tenant = _TenantSeeder(plan, 0, "-", NOW, _SQLITE if sqlite else _NATIVE)
    rows, timed = 0, 0.0

    def insert(model: type[SQLModel], batch: list[Row]) -> None:
        nonlocal rows, timed
        bulk = BulkInsert.of(model, batch[0])
        statement = bulk.statement(marker)
        values = [bulk.values(row) for row in batch]  # the seeder's work, not timed
        started = time.perf_counter()
        if sqlite:
            connection.executemany(statement, values)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(statement, values)
        timed += time.perf_counter() - started
        rows += len(batch)

    insert(Tenant, [tenant.tenant_row()])
    insert(User, list(tenant.users()))
    insert(Tag, list(tenant.tags()))
    links: list[Row] = []
    posts = tenant.posts_and_links(links)
    while batch := list(islice(posts, plan.batch_size)):
        insert(Post, batch)
        if links:
            insert(PostTag, links[:])
        links.clear()
    started = time.perf_counter()
    connection.commit() if not sqlite else connection.execute("COMMIT")
    timed += time.perf_counter() - started
    connection.close()
    return rows, timed


def peak_rss_kib(posts: int) -> int:
    """Peak RSS of a fresh process that seeds ``posts`` posts into SQLite."""
    child = f"""
import resource, tempfile, pathlib
from bench.seed_speed import migrated_sqlite, plan_for, run_seeder
with tempfile.TemporaryDirectory() as d:
    run_seeder(migrated_sqlite(pathlib.Path(d), "rss.db"), plan_for({posts}))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", child], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def compare(name: str, seeder: tuple[int, float], baseline: tuple[int, float]) -> dict[str, Any]:
    seeder_rate = seeder[0] / seeder[1]
    baseline_rate = baseline[0] / baseline[1]
    result = {
        "database": name,
        "rows": seeder[0],
        "seeder_seconds": round(seeder[1], 2),
        "seeder_rows_per_s": round(seeder_rate),
        "baseline_rows_per_s": round(baseline_rate),
        "ratio": round(seeder_rate / baseline_rate, 3),
    }
    print(
        f"{name:>10}: seeder {seeder_rate:>10,.0f} rows/s ({seeder[0]:,} rows in "
        f"{seeder[1]:.1f} s) | bare executemany {baseline_rate:>10,.0f} rows/s | "
        f"ratio {seeder_rate / baseline_rate:.0%}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (databases are made on it)")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    plan = plan_for(args.posts)
    results = []
    print(f"Seeding {plan.users_per_tenant * plan.posts_per_user:,} posts (+ tag links)")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        seeder = run_seeder(migrated_sqlite(folder, "seeder.db"), plan)
        baseline = run_baseline(migrated_sqlite(folder, "baseline.db"), plan)
        results.append(compare("SQLite", seeder, baseline))
    if args.postgres:
        urls = [fresh_postgres(args.postgres) for _ in range(2)]
        try:
            seeder = run_seeder(urls[0], plan)
            baseline = run_baseline(urls[1], plan)
            results.append(compare("PostgreSQL", seeder, baseline))
        finally:
            for url in urls:
                drop_postgres(url)
    report: dict[str, Any] = {"results": results}
    if not args.skip_rss:
        small, large = peak_rss_kib(100_000), peak_rss_kib(1_000_000)
        report["peak_rss_kib"] = {"100k": small, "1M": large}
        print(
            f"peak RSS of the seeder: {small / 1024:,.0f} MiB for 100k posts, "
            f"{large / 1024:,.0f} MiB for 1M posts ({large / small:.2f}x)"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
