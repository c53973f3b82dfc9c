"""HTTP benchmark of the real server against a bare ceiling app, with wrk on loopback.

    make bench                                   # SQLite, the full run (about 15 minutes)
    make bench BENCH_ARGS=--quick                # smoke run, about 2 minutes
    .venv/bin/python scripts/bench.py --postgres postgresql://postgres@127.0.0.1:5432/test

In one run on this machine:
  * a seeded database (``blog db upgrade`` + ``blog seed``: 5 blogs, 60,000 posts of which
    ~54,000 published, tags, comments) is prepared once and cached: SQLite in
    ``.bench/``, PostgreSQL as the database ``blog_bench`` (served, like production, as
    an unprivileged role that row-level security applies to). Every server
    configuration runs on a fresh copy, since the POST endpoints write;
  * ``blog serve`` is started on 127.0.0.1 with one worker and with N, rate limits
    off, everything else (bcrypt rounds included) as configured;
  * a *ceiling* app (scripts/bench_ceiling.py: a bare FastAPI route returning the very
    bytes the real endpoint returned, no database) runs beside it under the same
    uvicorn settings; every measurement of the app is followed by the same one of the
    ceiling, so each ratio compares two runs seconds apart;
  * each read endpoint is driven hot (the same URL every time) and cold (a different
    page, slug, user or account on every request) at several concurrencies by wrk
    (scripts/bench_wrk.lua), bounded in time and in requests;
  * then: one bcrypt verify against logins/s, GET /posts while logins saturate the
    CPU, and the server's memory across a long mixed run; PASS/FAIL per target.

The machine may be shared: read the ratios, not the absolute numbers.
"""

import argparse
import base64
import hashlib
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from blog.seeding import SEED_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
WRK_SCRIPT = Path(__file__).resolve().parent / "bench_wrk.lua"
CEILING_SCRIPT = Path(__file__).resolve().parent / "bench_ceiling.py"
BIN = Path(sys.executable).parent

API = "/api/v1/tenants"
PAGE = 20
PROLIFIC_POSTS = 50
APP_ROLE = "blog_bench_app"
BENCH_DATABASE = "blog_bench"
RUN_DATABASE = "blog_bench_run"
# Bump when what the cached database holds changes in a way the key does not capture.
DATA_FORMAT = 1

# Targets of the issue, judged on one worker at the target concurrency.
HOT_RATIO_TARGET = {"sqlite": 0.50, "postgresql": 0.35}
COLD_LIST_FACTOR = 4.0
BCRYPT_TARGET = 0.85
SATURATION_TARGET = 0.30
MEMORY_TOLERANCE = 0.10


# --------------------------------------------------------------------------------------
# Pure parts: wrk results, ratios, targets, the table (tested in tests/test_bench.py)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """One wrk run, as printed by the ``done()`` of scripts/bench_wrk.lua."""

    requests: int
    duration_s: float
    bytes: int
    non2xx: int
    capped: bool
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        """Completed requests per second (0 for an empty run)."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts (a non-2xx status is not one)."""
        return sum(self.errors.get(kind, 0) for kind in ("connect", "read", "write", "timeout"))

    @property
    def failed(self) -> bool:
        """True when any request failed, or none completed: the figures are not valid."""
        return self.requests == 0 or self.non2xx > 0 or self.socket_errors > 0

    def problems(self) -> str:
        """What went wrong, briefly (empty when nothing did)."""
        parts = ["no responses"] if self.requests == 0 else []
        parts += [f"{self.non2xx} non-2xx"] if self.non2xx else []
        parts += [
            f"{count} {kind}" for kind, count in self.errors.items() if count and kind != "status"
        ]
        return ", ".join(parts)


RESULT_MARKER = "BENCH_RESULT "


def parse_wrk_output(stdout: str) -> WrkResult:
    """The result line of scripts/bench_wrk.lua's ``done()``; wrk's own text is ignored."""
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if len(lines) != 1:
        raise ValueError(
            f"expected one {RESULT_MARKER.strip()} line in wrk's output, got {len(lines)}"
        )
    raw = json.loads(lines[0].removeprefix(RESULT_MARKER))
    latency = raw["latency_us"]
    return WrkResult(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        bytes=int(raw["bytes"]),
        non2xx=int(raw["non2xx"]),
        capped=bool(raw["capped"]),
        errors={kind: int(count) for kind, count in raw["errors"].items()},
        p50_ms=latency["p50"] / 1e3,
        p90_ms=latency["p90"] / 1e3,
        p99_ms=latency["p99"] / 1e3,
        max_ms=latency["max"] / 1e3,
    )


def ratio(measured: float, reference: float) -> float | None:
    """``measured / reference``, or None when there is no reference to divide by."""
    return measured / reference if reference > 0 else None


@dataclass(frozen=True)
class Row:
    """One endpoint in one mode, on one server configuration, at one concurrency."""

    endpoint: str
    mode: str
    workers: int
    concurrency: int
    app: WrkResult
    ceiling: WrkResult | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """The app's requests/s over the ceiling's."""
        return ratio(self.app.rps, self.ceiling.rps) if self.ceiling else None

    @property
    def failed(self) -> bool:
        """True when the app's or the ceiling's run had a failed request."""
        return self.app.failed or (self.ceiling is not None and self.ceiling.failed)

    def problems(self) -> str:
        """Failed requests of either side, labelled."""
        parts = []
        if self.app.failed:
            parts.append(f"app: {self.app.problems()}")
        if self.ceiling is not None and self.ceiling.failed:
            parts.append(f"ceiling: {self.ceiling.problems()}")
        return "; ".join(parts)


def find_row(
    rows: Sequence[Row], endpoint: str, mode: str, workers: int, concurrency: int
) -> Row | None:
    """The row measured for exactly these, if any."""
    for row in rows:
        if (row.endpoint, row.mode, row.workers, row.concurrency) == (
            endpoint,
            mode,
            workers,
            concurrency,
        ):
            return row
    return None


@dataclass(frozen=True)
class BcryptFigures:
    rounds: int
    verify_s: float
    cores: int

    @property
    def ceiling_rps(self) -> float:
        """Logins/s if every core did nothing but one bcrypt verify after another."""
        return self.cores / self.verify_s


@dataclass(frozen=True)
class SaturationFigures:
    """GET /posts alone, then while wrk floods POST /auth/token."""

    workers: int
    concurrency: int
    alone: WrkResult
    loaded: WrkResult
    logins: WrkResult

    @property
    def kept(self) -> float | None:
        """The share of its unloaded throughput that GET /posts keeps."""
        return ratio(self.loaded.rps, self.alone.rps)


@dataclass(frozen=True)
class MemoryFigures:
    """The server's RSS (all its processes) after warm-up and at the end of a long run."""

    workers: int
    seconds: int
    warm_kib: int
    end_kib: int
    peak_kib: int
    load: WrkResult

    @property
    def growth(self) -> float:
        """Relative change from after warm-up to the end (0.05: 5% more)."""
        return (self.end_kib - self.warm_kib) / self.warm_kib if self.warm_kib else 0.0


@dataclass(frozen=True)
class Target:
    """One target of the issue: the figure, the bar, and whether it was met."""

    name: str
    value: float | None
    threshold: float
    passed: bool | None  # None: not measured in this run
    detail: str

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or N/A when the run did not measure it."""
        return "N/A" if self.passed is None else ("PASS" if self.passed else "FAIL")


def _ratio_target(name: str, row: Row | None, threshold: float) -> Target:
    if row is None or row.ratio is None:
        return Target(name, None, threshold, None, "not measured in this run")
    passed = row.ratio >= threshold and not row.failed
    detail = f"{row.app.rps:,.0f} / {row.ceiling.rps if row.ceiling else 0:,.0f} req/s"
    if row.failed:
        detail += f" (errors: {row.problems()})"
    return Target(name, row.ratio, threshold, passed, detail)


def evaluate_targets(
    *,
    database: str,
    rows: Sequence[Row],
    concurrency: int,
    cold_list_baseline_rps: float,
    bcrypt: BcryptFigures | None,
    saturation: SaturationFigures | None,
    memory: MemoryFigures | None,
    memory_seconds_required: int = 60,
) -> list[Target]:
    """PASS/FAIL per target of the issue, from one run's figures (one worker, ``concurrency``).

    A figure from a run with failed requests never passes.
    """
    hot = HOT_RATIO_TARGET[database]
    targets = [
        _ratio_target(
            f"hot {endpoint} >= {hot:.0%} of ceiling",
            find_row(rows, endpoint, "hot", 1, concurrency),
            hot,
        )
        for endpoint in (LIST.label, BY_SLUG.label, ME.label)
    ]
    cold = find_row(rows, LIST.label, "cold", 1, concurrency)
    bar = COLD_LIST_FACTOR * cold_list_baseline_rps
    name = f"cold {LIST.label} >= {COLD_LIST_FACTOR:g}x straightforward ({bar:,.0f} req/s)"
    if cold is None:
        targets.append(Target(name, None, bar, None, "not measured in this run"))
    else:
        detail = f"{cold.app.rps / cold_list_baseline_rps:.1f}x {cold_list_baseline_rps:g} req/s"
        if cold.app.failed:
            detail += f" (errors: {cold.app.problems()})"
        targets.append(
            Target(name, cold.app.rps, bar, cold.app.rps >= bar and not cold.app.failed, detail)
        )

    logins = find_row(rows, TOKEN.label, "hot", 1, concurrency)
    name = f"{TOKEN.label} >= {BCRYPT_TARGET:.0%} of cores / bcrypt verify"
    if bcrypt is None or logins is None:
        targets.append(Target(name, None, BCRYPT_TARGET, None, "not measured in this run"))
    else:
        share = logins.app.rps / bcrypt.ceiling_rps
        detail = f"{logins.app.rps:.2f} of {bcrypt.ceiling_rps:.2f} logins/s"
        if logins.app.failed:
            detail += f" (errors: {logins.app.problems()})"
        passed = share >= BCRYPT_TARGET and not logins.app.failed
        targets.append(Target(name, share, BCRYPT_TARGET, passed, detail))

    name = f"{LIST.label} under login load >= {SATURATION_TARGET:.0%} of unloaded"
    if saturation is None or saturation.kept is None:
        targets.append(Target(name, None, SATURATION_TARGET, None, "not measured in this run"))
    else:
        failed = saturation.alone.failed or saturation.loaded.failed
        detail = f"{saturation.loaded.rps:,.0f} of {saturation.alone.rps:,.0f} req/s"
        if failed:
            detail += " (errors)"
        passed = saturation.kept >= SATURATION_TARGET and not failed
        targets.append(Target(name, saturation.kept, SATURATION_TARGET, passed, detail))

    name = f"server RSS after {memory_seconds_required} s within {MEMORY_TOLERANCE:.0%} of warm"
    if memory is None:
        targets.append(Target(name, None, MEMORY_TOLERANCE, None, "not measured in this run"))
    else:
        detail = f"{memory.warm_kib / 1024:,.1f} -> {memory.end_kib / 1024:,.1f} MiB"
        if memory.seconds < memory_seconds_required:
            detail += f" (only {memory.seconds} s: indicative)"
        if memory.load.failed:
            detail += f" (errors: {memory.load.problems()})"
        passed = abs(memory.growth) <= MEMORY_TOLERANCE and not memory.load.failed
        targets.append(Target(name, memory.growth, MEMORY_TOLERANCE, passed, detail))
    return targets


def format_table(rows: Sequence[Row]) -> str:
    """The key output: one line per endpoint, mode, workers and concurrency."""
    header = (
        f"{'endpoint':<30} {'mode':<6} {'W':>2} {'C':>3} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'ceiling':>9} {'ratio':>6}  errors"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        ceiling = f"{row.ceiling.rps:>9,.0f}" if row.ceiling else f"{'-':>9}"
        share = f"{row.ratio:>6.1%}" if row.ratio is not None else f"{'-':>6}"
        flag = f"!! {row.problems()}" if row.failed else ""
        if row.app.capped:
            flag = (flag + " (request cap hit)").strip()
        if row.note:
            flag = f"{flag} ({row.note})".strip()
        lines.append(
            f"{row.endpoint:<30} {row.mode:<6} {row.workers:>2} {row.concurrency:>3} "
            f"{row.app.rps:>9,.1f} {row.app.p50_ms:>8.1f} {row.app.p99_ms:>8.1f} "
            f"{ceiling} {share}  {flag}"
        )
    return "\n".join(lines)


def format_targets(targets: Sequence[Target]) -> str:
    """One line per target with its verdict."""
    lines = []
    for target in targets:
        if target.value is None:
            shown = "-"
        elif target.threshold < 1.5:  # shares and growth read best as percentages
            shown = f"{target.value:.1%}"
        else:
            shown = f"{target.value:,.0f}"
        lines.append(f"  [{target.verdict:>4}] {target.name}: {shown} ({target.detail})")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Endpoints and the requests wrk sends
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    method: str
    pattern: str  # the route, as the ceiling app registers it


LIST = Endpoint("list", "GET /posts?limit=20", "GET", API + "/{tenant}/posts")
BY_SLUG = Endpoint(
    "by_slug", "GET /posts/by-slug/{slug}", "GET", API + "/{tenant}/posts/by-slug/{slug}"
)
WITH_POSTS = Endpoint(
    "with_posts", "GET /users/{id}/with-posts", "GET", API + "/{tenant}/users/{user_id}/with-posts"
)
ME = Endpoint("me", "GET /users/me", "GET", API + "/{tenant}/users/me")
TOKEN = Endpoint("token", "POST /auth/token", "POST", API + "/{tenant}/auth/token")
CREATE = Endpoint("create", "POST /posts", "POST", API + "/{tenant}/posts")
ENDPOINTS = (LIST, BY_SLUG, WITH_POSTS, ME, TOKEN, CREATE)


@dataclass(frozen=True)
class RequestLine:
    """One request as scripts/bench_wrk.lua reads it (tab-separated, one per line)."""

    method: str
    path: str
    body: str = ""
    headers: tuple[str, ...] = ()

    def render(self) -> str:
        fields = [self.method, self.path, self.body, *self.headers]
        if any("\t" in part or "\n" in part for part in fields):
            raise ValueError(f"a request field holds a tab or newline: {fields!r}")
        return "\t".join(fields)


@dataclass(frozen=True)
class Scenario:
    endpoint: Endpoint
    mode: str  # hot | cold | unique
    lines: tuple[RequestLine, ...]

    @property
    def pick(self) -> str:
        return {"hot": "first", "cold": "sequence", "mixed": "random", "unique": "unique"}[
            self.mode
        ]


def bearer(token: str) -> str:
    return f"Authorization: Bearer {token}"


# --------------------------------------------------------------------------------------
# The seeded database
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSize:
    """Arguments of ``blog seed``; 90% of seeded posts are published (blog/seeding.py)."""

    tenants: int = 5
    users_per_tenant: int = 200
    posts_per_user: int = 60
    comments_per_post: int = 2
    tags: int = 30
    seed: int = 1

    def arguments(self) -> list[str]:
        return [
            f"--tenants={self.tenants}",
            f"--users-per-tenant={self.users_per_tenant}",
            f"--posts-per-user={self.posts_per_user}",
            f"--comments-per-post={self.comments_per_post}",
            f"--tags={self.tags}",
            f"--seed={self.seed}",
        ]


@dataclass(frozen=True)
class Account:
    tenant: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    email: str


@dataclass(frozen=True)
class Dataset:
    """What the requests are made of, read from the seeded database."""

    tenants: list[str]
    published: dict[str, int]
    slugs: list[tuple[str, str]]
    prolific: list[tuple[Account, int]]  # accounts with >= 50 published posts, and the count
    accounts: list[Account]

    @property
    def login(self) -> Account:
        """The account that logs in, writes, and is read with its posts (hot runs)."""
        return self.prolific[0][0]


def _as_uuid(value: object) -> uuid.UUID:
    # SQLite keeps UUIDs as 32 hex digits, psycopg returns uuid.UUID.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def build_dataset(connection: Any, size: SeedSize, rng: random.Random) -> Dataset:
    """Read tenants, accounts and published slugs (a DB-API connection, owner or file)."""
    cursor = connection.cursor()
    cursor.execute("SELECT id, slug FROM tenants ORDER BY slug")
    prefix = f"seed-{size.seed}-"
    tenants = {
        _as_uuid(row[0]): str(row[1]) for row in cursor.fetchall() if row[1].startswith(prefix)
    }
    cursor.execute("SELECT tenant_id, id, username, email FROM users")
    accounts = {
        (_as_uuid(t), _as_uuid(u)): Account(
            tenants[_as_uuid(t)], _as_uuid(t), _as_uuid(u), name, mail
        )
        for t, u, name, mail in cursor.fetchall()
        if _as_uuid(t) in tenants
    }
    cursor.execute("SELECT tenant_id, author_id, slug FROM posts WHERE status = 'published'")
    published: dict[str, int] = dict.fromkeys(tenants.values(), 0)
    per_author: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    slugs: list[tuple[str, str]] = []
    for tenant_id, author_id, slug in cursor.fetchall():
        key = (_as_uuid(tenant_id), _as_uuid(author_id))
        if key[0] not in tenants:
            continue
        published[tenants[key[0]]] += 1
        per_author[key] = per_author.get(key, 0) + 1
        slugs.append((tenants[key[0]], str(slug)))
    cursor.close()
    # Closest to 50 first (then by name): "a user with 50 posts", the same one every run.
    prolific = sorted(
        ((accounts[key], count) for key, count in per_author.items() if count >= PROLIFIC_POSTS),
        key=lambda item: (item[1], item[0].tenant, item[0].username),
    )
    if not prolific:
        raise SystemExit(f"no seeded user has {PROLIFIC_POSTS} published posts; seed more")
    # Sorted, then shuffled with the run's seed: the same cold order on every run.
    slugs.sort()
    members = sorted(accounts.values(), key=lambda account: (account.tenant, account.username))
    rng.shuffle(slugs)
    rng.shuffle(members)
    return Dataset(
        tenants=sorted(tenants.values()),
        published=published,
        slugs=slugs,
        prolific=prolific,
        accounts=members,
    )


def schema_head() -> str:
    """The newest migration: a cached database made at another schema is not reused."""
    from alembic.script import ScriptDirectory

    from blog.cli import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or "none"


def cache_key(size: SeedSize, bcrypt_rounds: int) -> str:
    """Names the cached database: seed size, schema, and the rounds its hashes were made at."""
    material = json.dumps(
        {
            "size": asdict(size),
            "schema": schema_head(),
            "rounds": bcrypt_rounds,
            "format": DATA_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def blog_command(arguments: Sequence[str], env: dict[str, str], cwd: Path) -> None:
    """Run the ``blog`` CLI of this virtualenv; its failure ends the benchmark."""
    subprocess.run(  # noqa: S603 - our own CLI with our own arguments
        [str(BIN / "blog"), *arguments], env=env, cwd=cwd, check=True
    )


class Database(Protocol):
    """Where the seeded data lives: prepared once, copied for every server configuration."""

    kind: str

    def prepare(self) -> None:
        """Create the seeded database unless a matching one is cached."""

    def dataset(self, rng: random.Random) -> Dataset:
        """Read what the requests are made of."""

    def working_copy(self, folder: Path) -> AbstractContextManager[dict[str, str]]:
        """A fresh copy for one server configuration; yields the server's BLOG_* settings."""

    def describe(self) -> dict[str, Any]:
        """For the JSON output (no passwords)."""


class SqliteDatabase:
    """A seeded SQLite file cached in .bench/, copied for every server configuration."""

    kind = "sqlite"

    def __init__(self, size: SeedSize, key: str, env: dict[str, str]) -> None:
        self.size = size
        self.path = BENCH_DIR / f"seed-{key}.sqlite"
        self.env = env
        self.reused = False

    def prepare(self) -> None:
        if self.path.exists():
            self.reused = True
            print(f"Reusing the seeded database {self.path.relative_to(ROOT)}")
            return
        print(f"Seeding {self.path.relative_to(ROOT)} (cached for the next runs) ...")
        with tempfile.TemporaryDirectory(dir=BENCH_DIR) as scratch:
            building = Path(scratch) / "seed.sqlite"
            env = {**self.env, "BLOG_DATABASE_URL": f"sqlite:///{building}"}
            blog_command(["db", "upgrade"], env, Path(scratch))
            blog_command(["seed", *self.size.arguments()], env, Path(scratch))
            # Fold the WAL into the file. No ANALYZE: a deployed SQLite file never gets one
            # (the app runs none), and planner statistics would change the plans measured.
            connection = sqlite3.connect(building)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
            building.replace(self.path)  # atomic: an interrupted seed is never cached

    def dataset(self, rng: random.Random) -> Dataset:
        connection = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True)
        try:
            return build_dataset(connection, self.size, rng)
        finally:
            connection.close()

    @contextmanager
    def working_copy(self, folder: Path) -> Iterator[dict[str, str]]:
        copy = folder / "blog.db"
        source = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        try:
            yield {"BLOG_DATABASE_URL": f"sqlite:///{copy}"}
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "cache": str(self.path.relative_to(ROOT)), "reused": self.reused}


class PostgresDatabase:
    """``blog_bench`` on the given server, seeded once (its comment holds the cache key);
    every server configuration runs on ``blog_bench_run``, a copy made from it as a template,
    connected to as a role that owns nothing and cannot bypass row-level security."""

    kind = "postgresql"

    def __init__(self, server_url: str, size: SeedSize, key: str, env: dict[str, str]) -> None:
        from sqlalchemy.engine import make_url

        self.server = make_url(server_url).set(drivername="postgresql")
        self.size = size
        self.key = key
        self.env = env
        self.app_password = secrets.token_urlsafe(16)
        self.reused = False

    def _url(self, database: str, *, app: bool = False) -> str:
        url = self.server.set(database=database)
        if app:
            url = url.set(username=APP_ROLE, password=self.app_password)
        return url.render_as_string(hide_password=False)

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self._url(self.server.database or "postgres"), autocommit=True)

    def prepare(self) -> None:
        from psycopg import sql

        with self._admin() as admin:
            comment = admin.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (BENCH_DATABASE,),
            ).fetchone()
            # The app role: no superuser, no BYPASSRLS, owns nothing; a fresh password per run.
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,))
            verb = "ALTER" if exists.fetchone() else "CREATE"
            admin.execute(
                sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD {}").format(
                    sql.SQL(verb), sql.Identifier(APP_ROLE), sql.Literal(self.app_password)
                )
            )
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(RUN_DATABASE)
                )
            )
            if comment is not None and comment[0] == f"blog-bench {self.key}":
                self.reused = True
                print(f"Reusing the seeded database {BENCH_DATABASE}")
                return
            print(f"Seeding the database {BENCH_DATABASE} (kept for the next runs) ...")
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(BENCH_DATABASE)
                )
            )
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
        owner = self._url(BENCH_DATABASE)
        with tempfile.TemporaryDirectory(dir=BENCH_DIR) as scratch:
            env = {
                **self.env,
                "BLOG_DATABASE_URL": self._url(BENCH_DATABASE, app=True),
                "BLOG_MIGRATION_DATABASE_URL": owner,
            }
            # Migrated as the owner; `blog db upgrade` grants the app role use of the tables.
            blog_command(["db", "upgrade"], env, Path(scratch))
            blog_command(
                ["seed", *self.size.arguments(), "--database-url", owner], env, Path(scratch)
            )
        import psycopg

        with psycopg.connect(owner, autocommit=True) as connection:
            # Production would have autovacuum's statistics by now; do not wait for it.
            connection.execute("VACUUM ANALYZE")
        with self._admin() as admin:
            admin.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(BENCH_DATABASE), sql.Literal(f"blog-bench {self.key}")
                )
            )

    def dataset(self, rng: random.Random) -> Dataset:
        import psycopg

        with psycopg.connect(self._url(BENCH_DATABASE)) as connection:
            return build_dataset(connection, self.size, rng)

    @contextmanager
    def working_copy(self, folder: Path) -> Iterator[dict[str, str]]:  # noqa: ARG002
        from psycopg import sql

        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(RUN_DATABASE)
        )
        with self._admin() as admin:
            admin.execute(drop)
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(RUN_DATABASE), sql.Identifier(BENCH_DATABASE)
                )
            )
        try:
            yield {
                "BLOG_DATABASE_URL": self._url(RUN_DATABASE, app=True),
                "BLOG_MIGRATION_DATABASE_URL": self._url(RUN_DATABASE),
            }
        finally:
            with self._admin() as admin:
                admin.execute(drop)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "server": self.server.render_as_string(hide_password=True),
            "database": BENCH_DATABASE,
            "served_as": APP_ROLE,
            "reused": self.reused,
        }


# --------------------------------------------------------------------------------------
# Processes: servers in their own process groups, wrk, /proc
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_group(pgid: int) -> dict[int, int]:
    """Live processes of a group (zombies left out) and their resident memory in KiB."""
    members: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the parenthesised command name: state ppid pgrp ...
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) != pgid or state == "Z":
                continue
            status = (entry / "status").read_text().splitlines()
            rss = [int(line.split()[1]) for line in status if line.startswith("VmRSS:")]
            members[int(entry.name)] = rss[0] if rss else 0
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return members


def process_group_cpu_ticks(pgid: int) -> int:
    """User + system CPU time of the group's live processes, in clock ticks."""
    total = 0
    for pid in process_group(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total


def process_group_rss_kib(pgid: int) -> int:
    """Resident memory of every process in the group (a multi-worker server's all)."""
    return sum(process_group(pgid).values())


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IDLE_SAMPLE_S = 0.3
IDLE_CPU_SHARE = 0.10  # of one core: a few log lines or a keep-alive, not a request


class ServerStuck(Exception):
    """The measured server stopped answering: the rest of its configuration is skipped."""


class Server:
    """A server process in its own process group, so stopping it leaves nothing behind."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = folder / f"{name}-{self.port}.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own servers
            [*argv, "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=folder,  # not the repository: a developer's .env must not change the figures
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.base_url + "/health/ready", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def answers(self, timeout_s: float = 10.0) -> bool:
        """Whether /health/ready still answers 200 (a hung server makes every run empty)."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - loopback
                self.base_url + "/health/ready", timeout=timeout_s
            ) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def keep_log(self) -> Path:
        """Copy the log out of the run's folder (which is deleted) for a post-mortem."""
        self._log.flush()
        kept = BENCH_DIR / f"failed-{self.log_path.name}"
        shutil.copyfile(self.log_path, kept)
        return kept

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss_kib(self) -> int:
        return process_group_rss_kib(self.process.pid)

    def wait_idle(self, timeout_s: float = 60.0) -> float:
        """Wait until the server stops using CPU; return the seconds waited.

        wrk closes its connections when its time is up, but the server still works off
        what it had accepted (logins queued for bcrypt, above all): without this, that
        backlog would be billed to the next run.
        """
        started = time.monotonic()
        quiet_needed, quiet = 1, 0
        before = process_group_cpu_ticks(self.process.pid)
        while time.monotonic() - started < timeout_s and quiet < quiet_needed:
            time.sleep(IDLE_SAMPLE_S)
            now = process_group_cpu_ticks(self.process.pid)
            busy = (now - before) / CLOCK_TICKS / IDLE_SAMPLE_S
            quiet = quiet + 1 if busy < IDLE_CPU_SHARE else 0
            before = now
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM to the whole group; SIGKILL to whatever is left after 10 s. Idempotent."""
        if self._log.closed:
            return
        for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline:
                self.process.poll()  # reaps the leader, which would linger as a zombie
                if not process_group(self.process.pid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        self.process.wait(timeout=5)
        self._log.close()


def http(method: str, url: str, body: str = "", headers: Sequence[str] = ()) -> tuple[int, bytes]:
    """One request with the standard library (captures, logins and checks, not load)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URLs we built
        url, data=body.encode() if body else None, method=method
    )
    for header in headers:
        name, value = header.split(":", 1)
        request.add_header(name, value.strip())
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@dataclass(frozen=True)
class WrkOptions:
    threads: int
    timeout_s: int
    max_requests: int
    seed: int


class Wrk:
    """Runs scripts/bench_wrk.lua with request files written into the run's folder."""

    def __init__(self, executable: str, folder: Path, options: WrkOptions) -> None:
        self.executable = executable
        self.folder = folder
        self.options = options
        self.runs = 0

    def _command(
        self,
        scenario: Scenario,
        base_url: str,
        concurrency: int,
        seconds: int,
        max_requests: int,
        start: int = 0,
    ) -> tuple[list[str], dict[str, str]]:
        self.runs += 1
        content = "\n".join(line.render() for line in scenario.lines) + "\n"
        digest = hashlib.sha256(content.encode()).hexdigest()[:8]
        requests_file = self.folder / f"requests-{scenario.endpoint.key}-{digest}.tsv"
        if not requests_file.exists():
            requests_file.write_text(content)
        threads = max(1, min(self.options.threads, concurrency))
        env = {
            **os.environ,
            "BENCH_REQUESTS_FILE": str(requests_file),
            "BENCH_PICK": scenario.pick,
            "BENCH_MAX_REQUESTS": str(math.ceil(max_requests / threads)),
            "BENCH_SEED": str(self.options.seed),
            "BENCH_NONCE": f"{os.getpid()}x{self.runs}",
            "BENCH_START": str(start),
            "BENCH_THREADS": str(threads),
        }
        argv = [
            self.executable,
            f"--threads={threads}",
            f"--connections={concurrency}",
            f"--duration={seconds}s",
            f"--timeout={self.options.timeout_s}s",
            f"--script={WRK_SCRIPT}",
            base_url,
        ]
        return argv, env

    def run(
        self,
        scenario: Scenario,
        base_url: str,
        concurrency: int,
        seconds: int,
        max_requests: int | None = None,
        start: int = 0,
    ) -> WrkResult:
        """Drive ``base_url`` for ``seconds`` (or until the request cap) and parse the result."""
        argv, env = self._command(
            scenario,
            base_url,
            concurrency,
            seconds,
            max_requests or self.options.max_requests,
            start,
        )
        done = subprocess.run(  # noqa: S603 - wrk with our own arguments
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
        return parse_wrk_output(done.stdout)

    def start(
        self, scenario: Scenario, base_url: str, concurrency: int, seconds: int
    ) -> subprocess.Popen[str]:
        """Run in the background (for the login flood); finish with :meth:`collect`."""
        argv, env = self._command(
            scenario, base_url, concurrency, seconds, self.options.max_requests
        )
        return subprocess.Popen(  # noqa: S603 - wrk with our own arguments
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    @staticmethod
    def collect(process: subprocess.Popen[str], timeout_s: float) -> WrkResult:
        stdout, stderr = process.communicate(timeout=timeout_s)
        if process.returncode != 0:
            raise SystemExit(f"wrk failed ({process.returncode}): {stderr.strip()}")
        return parse_wrk_output(stdout)


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Everything a run is configured with (see ``--help``)."""

    quick: bool
    postgres: str | None
    output: Path | None
    workers: list[int]
    concurrency: list[int]
    target_concurrency: int
    duration: int
    login_duration: int
    warmup: int
    memory_seconds: int
    memory_warmup: int
    wrk_threads: int
    wrk_timeout: int
    max_requests: int
    max_writes: int
    cold_tokens: int
    cold_list_baseline: float
    bcrypt_repeats: int
    token_minutes: int
    min_published: int
    seed: int
    size: SeedSize
    cores: int


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    bcrypt: BcryptFigures | None = None
    saturation: SaturationFigures | None = None
    memory: MemoryFigures | None = None
    problems: list[str] = field(default_factory=list)


def measure_bcrypt(rounds: int, cores: int, repeats: int) -> BcryptFigures:
    """The median of ``repeats`` verifies with the app's own hasher at the configured rounds."""
    from blog.auth.security import PasswordHasher

    hasher = PasswordHasher(rounds=rounds)
    hashed = hasher.hash(SEED_PASSWORD)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        hasher.verify(SEED_PASSWORD, hashed)
        times.append(time.perf_counter() - started)
    return BcryptFigures(rounds=rounds, verify_s=statistics.median(times), cores=cores)


class Bench:
    """One benchmark run: every server configuration, then the summary."""

    def __init__(self, args: Options, database: Database, folder: Path) -> None:
        self.args = args
        self.database = database
        self.folder = folder
        self.results = Results()
        self.rng = random.Random(args.seed)  # noqa: S311 - reproducible picks, not secrets
        self.secret_key = secrets.token_urlsafe(48)
        self.fingerprints = [code_fingerprint()]
        self.sent: dict[tuple[str, str, str], int] = {}
        self.bcrypt_rounds = 12  # replaced by the configured rounds in run()
        self.bcrypt_timings: list[float] = []
        wrk = shutil.which("wrk")
        if wrk is None:
            raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does)")
        self.wrk = Wrk(
            wrk,
            folder,
            WrkOptions(args.wrk_threads, args.wrk_timeout, args.max_requests, args.seed),
        )

    def server_env(self) -> dict[str, str]:
        """What every server (and CLI call) runs with: the caller's BLOG_* settings, but a
        production environment, a strong throwaway key, long-lived tokens (a long run must
        not see its token expire) and rate limits off (wrk is one address hammering one
        account)."""
        return {
            **os.environ,
            "BLOG_ENVIRONMENT": "production",
            "BLOG_SECRET_KEY": self.secret_key,
            "BLOG_ACCESS_TOKEN_MINUTES": str(self.args.token_minutes),
            "BLOG_RATE_LIMITS_ENABLED": "false",
        }

    def settings(self) -> Any:
        """The settings the servers will read (environment only: they run outside the repo)."""
        from pydantic import SecretStr

        from blog.settings import Settings

        return Settings(
            _env_file=None,
            environment="production",
            secret_key=SecretStr(self.secret_key),
            access_token_minutes=self.args.token_minutes,
            rate_limits_enabled=False,
        )

    # ---- requests --------------------------------------------------------------------

    def scenarios(self, data: Dataset, token: str) -> list[Scenario]:
        """Every measured (endpoint, mode), in order; the write comes last."""
        from blog.auth.security import TokenCodec

        login = data.login
        auth = bearer(token)
        rng = random.Random(self.args.seed)  # noqa: S311 - the same cold URLs every run
        # Every window of 20 of every blog (any offset), in a random order: a cache keyed
        # by URL cannot serve a cold run, which never repeats one before all were sent.
        pages = [
            RequestLine("GET", f"{API}/{tenant}/posts?limit={PAGE}&offset={offset}")
            for tenant in data.tenants
            for offset in range(max(1, data.published[tenant] - PAGE + 1))
        ]
        rng.shuffle(pages)
        # Many tokens per account (each has its own jti): distinct Authorization headers.
        accounts = [data.accounts[n % len(data.accounts)] for n in range(self.args.cold_tokens)]
        quote = urllib.parse.quote
        # Tokens minted with the server's own key: one login per account would cost minutes.
        codec = TokenCodec(self.secret_key, timedelta(minutes=self.args.token_minutes))
        form = urllib.parse.urlencode({"username": login.email, "password": SEED_PASSWORD})
        post = json.dumps(
            {
                "title": "Benchmark post @N@",
                "description": "Written by scripts/bench.py",
                "body": "## Load\n\nA post written under load, tagged like the seeded ones.",
                "tags": ["bench", "load"],
                "status": "draft",
            }
        )
        hot_slug = next(slug for tenant, slug in data.slugs if tenant == login.tenant)
        return [
            Scenario(
                LIST, "hot", (RequestLine("GET", f"{API}/{login.tenant}/posts?limit={PAGE}"),)
            ),
            Scenario(LIST, "cold", tuple(pages)),
            Scenario(
                BY_SLUG,
                "hot",
                (RequestLine("GET", f"{API}/{login.tenant}/posts/by-slug/{quote(hot_slug)}"),),
            ),
            Scenario(
                BY_SLUG,
                "cold",
                tuple(
                    RequestLine("GET", f"{API}/{tenant}/posts/by-slug/{quote(slug)}")
                    for tenant, slug in data.slugs
                ),
            ),
            Scenario(
                WITH_POSTS,
                "hot",
                (RequestLine("GET", f"{API}/{login.tenant}/users/{login.user_id}/with-posts"),),
            ),
            Scenario(
                WITH_POSTS,
                "cold",
                tuple(
                    RequestLine("GET", f"{API}/{account.tenant}/users/{account.user_id}/with-posts")
                    for account, _count in data.prolific
                ),
            ),
            Scenario(
                ME, "hot", (RequestLine("GET", f"{API}/{login.tenant}/users/me", "", (auth,)),)
            ),
            Scenario(
                ME,
                "cold",
                tuple(
                    RequestLine(
                        "GET",
                        f"{API}/{account.tenant}/users/me",
                        "",
                        (
                            bearer(
                                codec.issue(user_id=account.user_id, tenant_id=account.tenant_id)
                            ),
                        ),
                    )
                    for account in accounts
                ),
            ),
            Scenario(
                TOKEN,
                "hot",
                (
                    RequestLine(
                        "POST",
                        f"{API}/{login.tenant}/auth/token",
                        form,
                        ("Content-Type: application/x-www-form-urlencoded",),
                    ),
                ),
            ),
            Scenario(
                CREATE,
                "unique",
                (
                    RequestLine(
                        "POST",
                        f"{API}/{login.tenant}/posts",
                        post,
                        (auth, "Content-Type: application/json"),
                    ),
                ),
            ),
        ]

    def log_in(self, server: Server, account: Account) -> str:
        status, body = http(
            "POST",
            f"{server.base_url}{API}/{account.tenant}/auth/token",
            urllib.parse.urlencode({"username": account.email, "password": SEED_PASSWORD}),
            ("Content-Type: application/x-www-form-urlencoded",),
        )
        if status != 200:
            raise SystemExit(f"login as {account.email} failed: {status} {body[:300]!r}")
        token: str = json.loads(body)["access_token"]
        return token

    def capture(self, server: Server, scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
        """The real server's answer to each endpoint's first request: the ceiling's routes.

        Also checks a few requests of every scenario, so a broken one stops the run here
        rather than measuring error pages.
        """
        routes: dict[str, dict[str, Any]] = {}
        for scenario in scenarios:
            checks = list(scenario.lines[:1]) + self.rng.sample(
                scenario.lines, min(3, len(scenario.lines))
            )
            for number, line in enumerate(checks):
                tag = f"capture-{scenario.mode}-{number}"
                status, body = http(
                    line.method,
                    server.base_url + line.path.replace("@N@", tag),
                    line.body.replace("@N@", tag),
                    line.headers,
                )
                if not 200 <= status < 300:
                    raise SystemExit(
                        f"{scenario.endpoint.label} ({scenario.mode}) {line.path} answered "
                        f"{status}: {body[:300]!r}"
                    )
                routes.setdefault(
                    scenario.endpoint.key,
                    {
                        "method": scenario.endpoint.method,
                        "path": scenario.endpoint.pattern,
                        "status": status,
                        "body_b64": base64.b64encode(body).decode(),
                        "bytes": len(body),
                    },
                )
        return list(routes.values())

    # ---- measuring -------------------------------------------------------------------

    def seconds(self, scenario: Scenario) -> int:
        """How long each run of ``scenario`` lasts."""
        if scenario.endpoint is TOKEN:
            # A handful of logins per second, each one in flight for a second or more:
            # short runs would mostly measure the ramp-up.
            return max(self.args.duration, self.args.login_duration)
        return int(self.args.duration)

    def drive(
        self, scenario: Scenario, server: Server, concurrency: int, seconds: int
    ) -> WrkResult:
        """One wrk run, started once the server has worked off what came before.

        Cold runs go on where the previous one against this server stopped, so that no
        request repeats (and no cache can serve it) until every one was sent.
        """
        cap = self.args.max_writes if scenario.endpoint is CREATE else None
        key = (server.name, scenario.endpoint.key, scenario.mode)
        server.wait_idle()
        result = self.wrk.run(
            scenario, server.base_url, concurrency, seconds, cap, self.sent.get(key, 0)
        )
        # Requests still in flight when wrk stopped were sent too, though not counted.
        self.sent[key] = self.sent.get(key, 0) + result.requests + concurrency
        return result

    def repeated(self, server: Server, scenario: Scenario) -> str:
        """A note when a cold scenario ran out of distinct requests on ``server``."""
        sent = self.sent.get((server.name, scenario.endpoint.key, scenario.mode), 0)
        if scenario.mode != "cold" or sent <= len(scenario.lines):
            return ""
        return f"cold requests repeated: {len(scenario.lines):,} distinct, {sent:,} sent"

    def measure(self, scenario: Scenario, app: Server, ceiling: Server, workers: int) -> list[Row]:
        """Warm both up, then app and ceiling back to back at every concurrency."""
        if not app.answers():
            raise ServerStuck(f"{app.name} stopped answering /health/ready")
        # The ceiling is warmed once per configuration (see configuration()): its routes
        # differ only in the bytes they return.
        if self.args.warmup > 0:
            self.drive(scenario, app, max(self.args.concurrency), self.args.warmup)
        rows = []
        for concurrency in self.args.concurrency:
            measured = self.drive(scenario, app, concurrency, self.seconds(scenario))
            reference = self.drive(scenario, ceiling, concurrency, self.args.duration)
            row = Row(
                scenario.endpoint.label,
                scenario.mode,
                workers,
                concurrency,
                measured,
                reference,
                self.repeated(app, scenario),
            )
            rows.append(row)
            print(format_table([row]).splitlines()[-1], flush=True)
        return rows

    def saturation(
        self, list_hot: Scenario, logins: Scenario, app: Server, workers: int
    ) -> SaturationFigures:
        """GET /posts alone, then again while a wrk flood of logins keeps bcrypt busy."""
        concurrency = self.args.target_concurrency
        seconds = self.seconds(list_hot)
        alone = self.drive(list_hot, app, concurrency, seconds)
        flood_concurrency = max(8, 4 * self.args.cores)
        flood = self.wrk.start(logins, app.base_url, flood_concurrency, seconds + 4)
        try:
            time.sleep(2)  # let the logins fill every core first
            loaded = self.wrk.run(list_hot, app.base_url, concurrency, seconds)
        finally:
            login_result = Wrk.collect(flood, seconds + 60)
        return SaturationFigures(workers, concurrency, alone, loaded, login_result)

    def memory(self, mixed: Scenario, app: Server, workers: int) -> MemoryFigures:
        """RSS after a warm-up of mixed cold reads, then along and at the end of a long run."""
        concurrency = self.args.target_concurrency
        self.drive(mixed, app, concurrency, self.args.memory_warmup)
        warm = app.rss_kib()
        peak = warm
        process = self.wrk.start(mixed, app.base_url, concurrency, self.args.memory_seconds)
        try:
            while process.poll() is None:
                peak = max(peak, app.rss_kib())
                time.sleep(1)
            end = app.rss_kib()
        finally:
            load = Wrk.collect(process, 60)
        return MemoryFigures(workers, self.args.memory_seconds, warm, end, max(peak, end), load)

    def start_ceiling(
        self, stack: ExitStack, routes: list[dict[str, Any]], workers: int, log_level: str
    ) -> Server:
        """The ceiling app for ``routes``, warmed up; stopped when ``stack`` closes."""
        spec = self.folder / f"ceiling-w{workers}-{len(routes)}.json"
        spec.write_text(json.dumps(routes))
        ceiling = Server(
            f"ceiling-w{workers}",
            [
                sys.executable,
                str(CEILING_SCRIPT),
                f"--spec={spec}",
                f"--workers={workers}",
                f"--log-level={log_level}",
            ],
            dict(os.environ),
            self.folder,
        )
        stack.callback(ceiling.stop)
        ceiling.wait_ready()
        if self.args.warmup > 0:
            # Once per ceiling: its routes differ only in the bytes they return.
            warm = Scenario(LIST, "hot", (RequestLine("GET", f"{API}/any/posts?limit={PAGE}"),))
            self.drive(warm, ceiling, max(self.args.concurrency), self.args.warmup)
        return ceiling

    def configuration(self, workers: int, data: Dataset, log_level: str) -> None:
        """Everything measured on one server configuration (``workers`` processes)."""
        print(f"\n== {workers} worker(s): blog serve and the ceiling on 127.0.0.1", flush=True)
        self.check_code(f"before starting {workers} worker(s)")
        with ExitStack() as stack:
            env = stack.enter_context(self.database.working_copy(self.folder))
            app = Server(
                f"blog-w{workers}",
                [str(BIN / "blog"), "serve", "--workers", str(workers)],
                {**self.server_env(), **env},
                self.folder,
            )
            stack.callback(app.stop)
            app.wait_ready()
            scenarios = self.scenarios(data, self.log_in(app, data.login))
            reads = [scenario for scenario in scenarios if scenario.endpoint is not CREATE]
            writes = [scenario for scenario in scenarios if scenario.endpoint is CREATE]
            # Reads are captured and measured on the data as seeded; the write comes last.
            routes = self.capture(app, reads)
            ceiling = self.start_ceiling(stack, routes, workers, log_level)
            print(format_table([]).splitlines()[0], flush=True)
            try:
                for scenario in reads:
                    if scenario.endpoint is TOKEN and workers == self.args.workers[0]:
                        self.time_bcrypt()  # again, under the load of the moment
                    self.results.rows += self.measure(scenario, app, ceiling, workers)
                if workers == self.args.workers[0]:
                    self.saturation_and_memory(scenarios, app, workers)
                routes += self.capture(app, writes)
                ceiling.stop()
                ceiling = self.start_ceiling(stack, routes, workers, log_level)
                for scenario in writes:
                    self.results.rows += self.measure(scenario, app, ceiling, workers)
            except ServerStuck as stuck:
                message = (
                    f"!! {stuck}: the rest of the {workers}-worker configuration is skipped "
                    f"(server log kept in {app.keep_log().relative_to(ROOT)})"
                )
                print(message, flush=True)
                self.results.problems.append(message)

    def saturation_and_memory(
        self, scenarios: Sequence[Scenario], app: Server, workers: int
    ) -> None:
        """The login flood and the long memory run, on the first configuration only."""
        by_key = {(s.endpoint.key, s.mode): s for s in scenarios}
        print("-- logins flooding while GET /posts is measured", flush=True)
        self.results.saturation = self.saturation(
            by_key[("list", "hot")], by_key[("token", "hot")], app, workers
        )
        print(f"-- memory: {self.args.memory_seconds} s of mixed cold reads", flush=True)
        mixed = Scenario(
            Endpoint("mixed", "mixed cold reads", "GET", ""),
            "mixed",
            tuple(line for s in scenarios if s.mode == "cold" for line in s.lines[:5_000]),
        )
        self.results.memory = self.memory(mixed, app, workers)

    def time_bcrypt(self) -> None:
        """Time one verify; keep the fastest timing of the run (a shared machine only ever
        slows it down, and the fastest makes the strictest ceiling)."""
        timed = measure_bcrypt(self.bcrypt_rounds, self.args.cores, self.args.bcrypt_repeats)
        self.bcrypt_timings.append(timed.verify_s)
        best = self.results.bcrypt
        if best is None or timed.verify_s < best.verify_s:
            self.results.bcrypt = timed

    def check_code(self, moment: str, *, quiet: bool = False) -> None:
        """Warn (once per change) when blog/ or migrations/ differ from the run's start."""
        now = code_fingerprint()
        if now not in self.fingerprints:
            self.fingerprints.append(now)
            message = (
                f"!! blog/ or migrations/ changed during the run (seen {moment}): the "
                "figures mix versions of the code; run again on a quiet working tree"
            )
            if not quiet:
                print(message, flush=True)
            self.results.problems.append(message)

    def run(self) -> dict[str, Any]:
        """Prepare, measure every configuration, print the summary; return the JSON report."""
        settings = self.settings()
        self.database.prepare()
        data = self.database.dataset(self.rng)
        total_published = sum(data.published.values())
        if total_published < self.args.min_published:
            raise SystemExit(
                f"only {total_published:,} published posts (< {self.args.min_published:,}): "
                "seed more (--posts-per-user)"
            )
        login, count = data.prolific[0]
        print(
            f"Data: {len(data.tenants)} blogs, {total_published:,} published posts; "
            f"account {login.username} ({login.email}) of {login.tenant} has {count} published"
        )
        print(
            f"Settings: BLOG_RATE_LIMITS_ENABLED=false (rate limits OFF for the benchmark), "
            f"BLOG_ENVIRONMENT=production, bcrypt rounds {settings.bcrypt_rounds} (as "
            f"configured), log level {settings.log_level}, access tokens "
            f"{self.args.token_minutes} min; .env is not read"
        )
        print(f"Load average before: {format_load()}")
        print(f"Measuring one bcrypt verify at {settings.bcrypt_rounds} rounds ...", flush=True)
        self.bcrypt_rounds = settings.bcrypt_rounds
        self.time_bcrypt()
        for workers in self.args.workers:
            self.configuration(workers, data, settings.log_level.lower())
        return self.summary(settings, data)

    def summary(self, settings: Any, data: Dataset) -> dict[str, Any]:
        results, args = self.results, self.args
        print("\n" + format_table(results.rows))
        print(f"Load average after: {format_load()} ({args.cores} cores; not only ours)")
        self.check_code("at the end", quiet=True)  # printed with the other problems below
        failed = [row for row in results.rows if row.failed]
        if failed:
            print(f"!! {len(failed)} run(s) had failed requests: their figures are not valid")
        for problem in results.problems:
            print(problem)
        bcrypt = results.bcrypt
        logins = find_row(
            results.rows, TOKEN.label, "hot", args.workers[0], args.target_concurrency
        )
        if bcrypt:
            achieved = (
                f"achieved {logins.app.rps:.2f} logins/s ({args.workers[0]} worker(s), "
                f"c={args.target_concurrency}) = {logins.app.rps / bcrypt.ceiling_rps:.0%}"
                if logins
                else "logins not measured at the target concurrency"
            )
            print(
                f"\nbcrypt: one verify at {bcrypt.rounds} rounds = {bcrypt.verify_s * 1e3:.1f} ms "
                f"(fastest of {', '.join(f'{t * 1e3:.0f}' for t in self.bcrypt_timings)} ms); "
                f"{bcrypt.cores} cores -> ceiling {bcrypt.ceiling_rps:.2f} logins/s; {achieved}"
            )
        if results.saturation:
            s = results.saturation
            print(
                f"login saturation ({s.workers} worker(s), c={s.concurrency}): {LIST.label} "
                f"alone {s.alone.rps:,.1f} req/s; while {TOKEN.label} runs "
                f"({s.logins.rps:.2f} logins/s, {s.logins.problems() or 'no errors'}): "
                f"{s.loaded.rps:,.1f} req/s = {s.kept or 0:.0%} (p99 {s.loaded.p99_ms:.0f} ms)"
            )
        if results.memory:
            m = results.memory
            print(
                f"memory ({m.workers} worker(s), mixed cold reads, {m.load.rps:,.0f} req/s): RSS "
                f"after warm-up {m.warm_kib / 1024:,.1f} MiB, after {m.seconds} s "
                f"{m.end_kib / 1024:,.1f} MiB ({m.growth:+.1%}), peak {m.peak_kib / 1024:,.1f} MiB"
            )
        targets = evaluate_targets(
            database=self.database.kind,
            rows=results.rows,
            concurrency=args.target_concurrency,
            cold_list_baseline_rps=args.cold_list_baseline,
            bcrypt=bcrypt,
            saturation=results.saturation,
            memory=results.memory,
        )
        print(f"\nTargets (1 worker, c={args.target_concurrency}, {self.database.kind}):")
        print(format_targets(targets))
        return {
            "git": {**git_info(), "code_fingerprints": self.fingerprints},
            "problems": results.problems,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cores": args.cores,
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_average": list(os.getloadavg()),
            },
            "database": self.database.describe(),
            "data": {
                "seed": asdict(args.size),
                "blogs": len(data.tenants),
                "published_posts": sum(data.published.values()),
                "login": data.login.email,
                "with_posts_published": data.prolific[0][1],
            },
            "settings": {
                "rate_limits_enabled": False,
                "environment": "production",
                "bcrypt_rounds": settings.bcrypt_rounds,
                "log_level": settings.log_level,
                "access_token_minutes": args.token_minutes,
                "workers": args.workers,
                "concurrency": args.concurrency,
                "target_concurrency": args.target_concurrency,
                "duration_s": args.duration,
                "login_duration_s": args.login_duration,
                "warmup_s": args.warmup,
                "wrk_threads": args.wrk_threads,
                "max_requests": args.max_requests,
                "quick": args.quick,
            },
            "rows": [
                {
                    "endpoint": row.endpoint,
                    "mode": row.mode,
                    "workers": row.workers,
                    "concurrency": row.concurrency,
                    "app": {**asdict(row.app), "rps": row.app.rps},
                    "ceiling": {**asdict(row.ceiling), "rps": row.ceiling.rps}
                    if row.ceiling
                    else None,
                    "ratio": row.ratio,
                    "note": row.note,
                    "failed": row.failed,
                }
                for row in results.rows
            ],
            "bcrypt": (
                {
                    **asdict(bcrypt),
                    "ceiling_rps": bcrypt.ceiling_rps,
                    "timings_s": self.bcrypt_timings,
                }
                if bcrypt
                else None
            ),
            "login_saturation": (
                {
                    "workers": results.saturation.workers,
                    "concurrency": results.saturation.concurrency,
                    "alone_rps": results.saturation.alone.rps,
                    "loaded_rps": results.saturation.loaded.rps,
                    "logins_rps": results.saturation.logins.rps,
                    "kept": results.saturation.kept,
                }
                if results.saturation
                else None
            ),
            "memory": (
                {**asdict(results.memory), "growth": results.memory.growth}
                if results.memory
                else None
            ),
            "targets": [{**asdict(target), "verdict": target.verdict} for target in targets],
        }


def code_fingerprint() -> str:
    """A hash of the code under test: a shared working tree can change during a run."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("blog/**/*.py"), *ROOT.glob("migrations/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def format_load() -> str:
    """The 1, 5 and 15-minute load averages: others' work on a shared machine shows here."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def git_info() -> dict[str, Any]:
    """The commit measured, and whether the working tree differed from it."""

    def git(*arguments: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed git arguments
            ["git", *arguments],  # noqa: S607 - git from PATH, like make
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    return {
        "sha": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain")),
    }


def _csv_ints(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Command-line options; ``--quick`` changes the defaults to a smoke run."""
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 worker, c=8, 2 s runs")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (owner/superuser URL)")
    parser.add_argument(
        "--output", type=Path, help="JSON results (default .bench/results-SHA-DB.json)"
    )
    parser.add_argument(
        "--workers", type=_csv_ints, help=f"server configurations (default 1,{cores})"
    )
    parser.add_argument("--concurrency", type=_csv_ints, help="wrk connections (default 1,8,32)")
    parser.add_argument(
        "--target-concurrency", type=int, default=8, help="where targets are judged"
    )
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 5, quick 2)")
    parser.add_argument(
        "--login-duration", type=int, help="seconds per login run (default 10, quick 5)"
    )
    parser.add_argument(
        "--warmup", type=int, help="seconds of warm-up per scenario (default 2, quick 1)"
    )
    parser.add_argument("--memory-seconds", type=int, help="the memory run (default 60, quick 10)")
    parser.add_argument(
        "--memory-warmup", type=int, help="before its first RSS (default 10, quick 3)"
    )
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (it shares the cores)"
    )
    parser.add_argument(
        "--wrk-timeout", type=int, default=30, help="seconds before wrk gives up on a request"
    )
    parser.add_argument("--max-requests", type=int, default=500_000, help="per wrk run")
    parser.add_argument("--max-writes", type=int, default=50_000, help="per POST /posts run")
    parser.add_argument(
        "--cold-tokens", type=int, default=20_000, help="distinct tokens for cold /users/me"
    )
    parser.add_argument(
        "--cold-list-baseline",
        type=float,
        default=190.0,
        help="req/s of a straightforward cold list here (the issue's figure); target: 4x",
    )
    parser.add_argument("--bcrypt-repeats", type=int, help="verifies timed (default 7, quick 3)")
    parser.add_argument("--token-minutes", type=int, default=240, help="access-token lifetime")
    parser.add_argument("--min-published", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1, help="blog seed --seed, and the cold picks")
    parser.add_argument("--users-per-tenant", type=int, default=SeedSize.users_per_tenant)
    parser.add_argument("--posts-per-user", type=int, default=SeedSize.posts_per_user)
    parser.add_argument("--comments-per-post", type=int, default=SeedSize.comments_per_post)
    parser.add_argument("--tenants", type=int, default=SeedSize.tenants)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults: dict[str, Any] = {
        "workers": [1] if quick else sorted({1, cores}),
        "concurrency": [8] if quick else [1, 8, 32],
        "duration": 2 if quick else 5,
        "login_duration": 5 if quick else 10,
        "warmup": 1 if quick else 2,
        "memory_seconds": 10 if quick else 60,
        "memory_warmup": 3 if quick else 10,
        "bcrypt_repeats": 3 if quick else 7,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.target_concurrency not in args.concurrency:
        parser.error(f"--target-concurrency {args.target_concurrency} is not in --concurrency")
    size = SeedSize(
        tenants=args.tenants,
        users_per_tenant=args.users_per_tenant,
        posts_per_user=args.posts_per_user,
        comments_per_post=args.comments_per_post,
        seed=args.seed,
    )
    seeding = {"tenants", "users_per_tenant", "posts_per_user", "comments_per_post"}
    given = {name: value for name, value in vars(args).items() if name not in seeding}
    return Options(**given, size=size, cores=cores)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM/SIGHUP become SystemExit, so every `finally` stops its servers.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and write the JSON report."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    BENCH_DIR.mkdir(exist_ok=True)
    from blog.settings import Settings

    rounds = Settings(_env_file=None).bcrypt_rounds
    key = cache_key(args.size, rounds)
    with tempfile.TemporaryDirectory(prefix="run-", dir=BENCH_DIR) as scratch:
        folder = Path(scratch)
        bench_env = {
            **os.environ,
            "BLOG_ENVIRONMENT": "development",  # seeding: no secret key needed
            "BLOG_RATE_LIMITS_ENABLED": "false",
        }
        database: Database = (
            PostgresDatabase(args.postgres, args.size, key, bench_env)
            if args.postgres
            else SqliteDatabase(args.size, key, bench_env)
        )
        bench = Bench(args, database, folder)
        report = bench.run()
    output = args.output or BENCH_DIR / f"results-{report['git']['sha']}-{database.kind}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWrote {output}")


if __name__ == "__main__":
    main()
