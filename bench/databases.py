"""The seeded database: built once with ``blog seed``, cached, copied for every server.

SQLite is a file in ``.bench/``; PostgreSQL is the database ``blog_bench``, served (like
production) as an unprivileged role that row-level security applies to. Every server
that writes gets its own fresh copy, so head and baseline start from the same rows.
"""

import hashlib
import json
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.dataset import Dataset, build_dataset

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
APP_ROLE = "blog_bench_app"
BENCH_DATABASE = "blog_bench"
RUN_DATABASE = "blog_bench_run"
# Bump when what the cached database holds changes in a way the key does not capture.
DATA_FORMAT = 1


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
    """Run the head's ``blog`` CLI; its failure ends the benchmark."""
    subprocess.run(  # noqa: S603 - our own CLI with our own arguments
        [sys.executable, "-m", "blog", *arguments], env=env, cwd=cwd, check=True
    )


class Database(Protocol):
    """Where the seeded data lives: prepared once, copied for every server that writes."""

    kind: str

    def prepare(self) -> None:
        """Create the seeded database unless a matching one is cached."""

    def dataset(self, rng: random.Random) -> Dataset:
        """Read what the requests are made of."""

    def working_copy(self, folder: Path, name: str) -> AbstractContextManager[dict[str, str]]:
        """A fresh copy named ``name``; yields the server's BLOG_* database settings."""

    def describe(self) -> dict[str, Any]:
        """For the JSON output (no passwords)."""


class SqliteDatabase:
    """A seeded SQLite file cached in .bench/, copied for every server."""

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
        print(f"Seeding {self.path.relative_to(ROOT)} (cached for the next runs) ...", flush=True)
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
            return build_dataset(connection, self.size.seed, rng)
        finally:
            connection.close()

    @contextmanager
    def working_copy(self, folder: Path, name: str) -> Iterator[dict[str, str]]:
        copy = folder / f"{name}.db"
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
    every server runs on ``blog_bench_run_<name>``, a copy made from it as a template,
    connected to as a role that owns nothing and cannot bypass row-level security."""

    kind = "postgresql"

    def __init__(self, server_url: str, size: SeedSize, key: str, env: dict[str, str]) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            self.server = make_url(server_url).set(drivername="postgresql")
        except ArgumentError as error:
            raise SystemExit(f"--postgres: not a database URL: {server_url!r}") from error
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

        try:
            return psycopg.connect(
                self._url(self.server.database or "postgres"), autocommit=True, connect_timeout=5
            )
        except psycopg.OperationalError as error:
            shown = self.server.render_as_string(hide_password=True)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
            raise SystemExit(f"PostgreSQL unreachable at {shown}: {reason}") from error

    def _drop(self, admin: Any, database: str) -> None:
        from psycopg import sql

        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )

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
            if comment is not None and comment[0] == f"blog-bench {self.key}":
                self.reused = True
                print(f"Reusing the seeded database {BENCH_DATABASE}")
                return
            print(f"Seeding the database {BENCH_DATABASE} (kept for the next runs) ...", flush=True)
            self._drop(admin, BENCH_DATABASE)
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
            return build_dataset(connection, self.size.seed, rng)

    @contextmanager
    def working_copy(self, folder: Path, name: str) -> Iterator[dict[str, str]]:  # noqa: ARG002
        from psycopg import sql

        copy = f"{RUN_DATABASE}_{name}"
        with self._admin() as admin:
            self._drop(admin, copy)
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(copy), sql.Identifier(BENCH_DATABASE)
                )
            )
        try:
            yield {
                "BLOG_DATABASE_URL": self._url(copy, app=True),
                "BLOG_MIGRATION_DATABASE_URL": self._url(copy),
            }
        finally:
            with self._admin() as admin:
                self._drop(admin, copy)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "server": self.server.render_as_string(hide_password=True),
            "database": BENCH_DATABASE,
            "served_as": APP_ROLE,
            "reused": self.reused,
        }
