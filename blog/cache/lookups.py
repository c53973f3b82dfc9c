"""What the response cache asks the database, on connections of its own.

A lookup must never wait for a connection that a request holds while the request waits
for the lookup (a deadlock under many misses), so lookups have their own: on SQLite a
lookup engine's, asked on the event loop (a local file answers faster than a hop to a
thread would cost); on PostgreSQL a few asynchronous psycopg connections, never blocking
the loop on the network.

Two questions: a blog's id and content version by its slug; and, for a signed-in reader
of a shared body, whether they are an active member of the blog and which of the body's
posts they favorited and authors they follow. Row-level security applies to both on
PostgreSQL (each binds the blog for its own transaction: the first by the slug it asks
about, before it knows the id), and every query names the blog.
"""

import asyncio
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from blog.cache.versions import TenantVersion
from blog.database import create_lookup_engine
from blog.observability import metrics, tracing
from blog.shared import Mark, MarkKind
from blog.tenants.models import Tenant

LOOKUP_TIMEOUT_S = 2
MAX_MARKED_IDS = 500  # ids of one body; a longer list is left to the app

# The viewer is an active member (as blog.auth.service.authenticate requires), then the
# marks. One statement, so one round trip; {posts} and {users} are lists of placeholders.
MEMBER_SQL = (
    "SELECT 'member', NULL FROM users"
    " WHERE tenant_id = {p} AND id = {p} AND is_active AND token_generation = {p}"
)
FAVORITED_SQL = (
    "SELECT 'favorited', post_id FROM favorites"
    " WHERE tenant_id = {p} AND user_id = {p} AND post_id IN ({ids})"
)
FOLLOWING_SQL = (
    "SELECT 'following', followed_id FROM follows"
    " WHERE tenant_id = {p} AND follower_id = {p} AND followed_id IN ({ids})"
)


# Every column of a blog's row, so that the request need not read it again.
TENANT_COLUMNS: tuple[str, ...] = tuple(Tenant.__table__.columns.keys())  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FoundTenant:
    """A blog's row and content version, as a request's lookup found them."""

    row: dict[str, Any]
    version: int

    @property
    def id(self) -> uuid.UUID:
        found: uuid.UUID = self.row["id"]
        return found


def _found(row: Sequence[Any] | None) -> FoundTenant | None:
    if row is None:
        return None
    found = dict(zip(TENANT_COLUMNS, row[:-1], strict=True))
    found["created_at"] = found["created_at"].astimezone(UTC)
    return FoundTenant(row=found, version=row[-1])


VERSION_SQL = (
    "SELECT t.id, coalesce(v.version, 0) FROM tenants t"
    " LEFT JOIN tenant_versions v ON v.tenant_id = t.id WHERE t.slug = {p}"
)
ROWS_KEPT = 1024


class _Rows:
    """Blogs' rows by (id, version): a changed row moves its blog's version, so a request
    reads only the version, and the whole row once per version."""

    def __init__(self) -> None:
        self.found: dict[tuple[Any, int], FoundTenant] = {}

    def get(self, slug: str, tenant_id: Any, version: int) -> FoundTenant | None:
        found = self.found.get((tenant_id, version))
        return found if found is not None and found.row["slug"] == slug else None

    def add(self, tenant_id: Any, found: FoundTenant) -> FoundTenant:
        if len(self.found) >= ROWS_KEPT:
            self.found.clear()
        self.found[(tenant_id, found.version)] = found
        return found


def _viewer_query(
    placeholder: str, tenant: Any, viewer: Any, generation: int, posts: list[Any], users: list[Any]
) -> tuple[str, list[Any]]:
    parts, params = [MEMBER_SQL.format(p=placeholder)], [tenant, viewer, generation]
    for sql, ids in ((FAVORITED_SQL, posts), (FOLLOWING_SQL, users)):
        if ids:
            parts.append(sql.format(p=placeholder, ids=", ".join([placeholder] * len(ids))))
            params += [tenant, viewer, *ids]
    return " UNION ALL ".join(parts), params


def _marks(rows: Collection[tuple[str, Any]], as_uuid: Any) -> set[Mark] | None:
    """The viewer's marks, or None when the viewer is not an active member."""
    if not any(kind == "member" for kind, _ in rows):
        return None
    return {Mark(MarkKind(kind), as_uuid(value)) for kind, value in rows if kind != "member"}


class _Lookups:
    """A blog by its slug: its version per request, its row once per version."""

    rows: _Rows

    async def _version(self, slug: str) -> tuple[Any, int] | None:
        raise NotImplementedError

    async def _row(self, slug: str) -> FoundTenant | None:
        raise NotImplementedError

    async def tenant(self, slug: str) -> FoundTenant | None:
        """The blog's row and content version."""
        current = await self._version(slug)
        if current is None:
            return None
        found = self.rows.get(slug, *current)
        if found is None:
            found = await self._row(slug)
            if found is not None:
                self.rows.add(current[0], found)
        return found


class SqliteLookups(_Lookups):
    """On a lookup engine's own connection (see :func:`blog.database.create_lookup_engine`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = create_lookup_engine(engine)
        metrics.instrument_pool(self.engine, "lookup")
        versions = TenantVersion.__table__  # type: ignore[attr-defined]
        tenants = Tenant.__table__  # type: ignore[attr-defined]
        self.query = (
            sa.select(
                *(tenants.c[name] for name in TENANT_COLUMNS),
                sa.func.coalesce(versions.c.version, 0),
            )
            .outerjoin(versions, versions.c.tenant_id == tenants.c.id)
            .where(tenants.c.slug == sa.bindparam("slug"))
        )
        self.version_sql = VERSION_SQL.format(p="?")
        self.rows = _Rows()

    async def _version(self, slug: str) -> tuple[Any, int] | None:
        with self.engine.connect() as connection:  # raw-sql: platform rows, no tenant yet
            sql = self.version_sql
            current = connection.exec_driver_sql(sql, (slug,)).first()  # raw-sql: platform
        return None if current is None else (current[0], current[1])

    async def _row(self, slug: str) -> FoundTenant | None:
        with self.engine.connect() as connection:  # raw-sql: platform rows, no tenant yet
            return _found(connection.execute(self.query, {"slug": slug}).first())

    async def viewer_marks(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        *,
        generation: int,
        posts: Collection[uuid.UUID],
        users: Collection[uuid.UUID],
    ) -> set[Mark] | None:
        """Which of ``posts`` the viewer favorited and ``users`` they follow; None unless
        the viewer is an active member of the blog whose tokens are of ``generation``."""
        sql, params = _viewer_query(
            "?",
            tenant_id.hex,
            viewer_id.hex,
            generation,
            [i.hex for i in posts],
            [i.hex for i in users],
        )
        # One statement naming the blog in every table, on the lookup engine's connection.
        with self.engine.connect() as connection:  # raw-sql: names the blog in every table
            rows = connection.exec_driver_sql(sql, tuple(params)).all()  # raw-sql: as above
        return _marks([(row[0], row[1]) for row in rows], lambda value: uuid.UUID(hex=value))

    async def close(self) -> None:
        self.engine.dispose()


class PostgresLookups(_Lookups):
    """The same over a few asynchronous psycopg connections of its own."""

    TENANT_SQL = (
        f"SELECT {', '.join('t.' + name for name in TENANT_COLUMNS)}, coalesce(v.version, 0)"  # noqa: S608 - column names of ours
        " FROM tenants t LEFT JOIN tenant_versions v ON v.tenant_id = t.id WHERE t.slug = %s"
    )
    BIND_SQL = "SELECT set_config('app.tenant_id', %s, true)"
    # The blog of a slug, bound before its version is read (no blog: nothing is visible).
    BIND_SLUG_SQL = (
        "SELECT set_config('app.tenant_id',"
        " coalesce((SELECT id::text FROM tenants WHERE slug = %s), ''), true)"
    )

    def __init__(self, engine: Engine, *, connections: int = 4) -> None:
        url = engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.connections = connections
        # Asynchronous connections and the semaphore belong to the event loop that made
        # them: one set per loop (a server has one; a test may drive several).
        self.pools: WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = WeakKeyDictionary()
        self.rows = _Rows()
        self.tracer = tracing.tracer(__name__)  # its statements are not SQLAlchemy's

    def _pool(self) -> "_LoopPool":
        loop = asyncio.get_running_loop()
        pool = self.pools.get(loop)
        if pool is None:
            pool = self.pools[loop] = _LoopPool(asyncio.Semaphore(self.connections), [])
        return pool

    async def _run(self, *statements: tuple[str, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The last statement's rows; the statements run in one transaction (the first
        binds a blog for it), pipelined: one round trip. BEGIN and COMMIT go as statements:
        psycopg's ``transaction()`` block cost as much again per lookup."""
        pool = self._pool()
        with tracing.span(
            self.tracer,
            "cache lookup",
            _span_attributes(statements) if self.tracer else {},
            client=True,
        ):
            async with pool.slots:
                connection = pool.idle.pop() if pool.idle else None
                try:
                    async with asyncio.timeout(LOOKUP_TIMEOUT_S):  # a silent network: no cache
                        if connection is None:
                            connection = await psycopg.AsyncConnection.connect(  # raw-sql: platform
                                self.conninfo, autocommit=True
                            )
                        async with connection.pipeline():
                            await connection.execute("BEGIN")
                            for sql, params in statements:
                                cursor = await connection.execute(sql, params)  # raw-sql: bound
                            await connection.execute("COMMIT")
                        rows = await cursor.fetchall()
                except (psycopg.Error, TimeoutError):
                    if connection is not None:
                        await connection.close()
                    raise sa.exc.OperationalError(statements[-1][0], (), None) from None  # type: ignore[arg-type]
                pool.idle.append(connection)
        return rows

    async def _version(self, slug: str) -> tuple[Any, int] | None:
        rows = await self._run((self.BIND_SLUG_SQL, (slug,)), (VERSION_SQL.format(p="%s"), (slug,)))
        return (rows[0][0], rows[0][1]) if rows else None

    async def _row(self, slug: str) -> FoundTenant | None:
        rows = await self._run((self.BIND_SLUG_SQL, (slug,)), (self.TENANT_SQL, (slug,)))
        return _found(rows[0] if rows else None)

    async def viewer_marks(
        self,
        tenant_id: uuid.UUID,
        viewer_id: uuid.UUID,
        *,
        generation: int,
        posts: Collection[uuid.UUID],
        users: Collection[uuid.UUID],
    ) -> set[Mark] | None:
        sql, params = _viewer_query(
            "%s", tenant_id, viewer_id, generation, list(posts), list(users)
        )
        # Row-level security: the blog is bound for this transaction only.
        rows = await self._run((self.BIND_SQL, (str(tenant_id),)), (sql, tuple(params)))
        return _marks([(row[0], row[1]) for row in rows], lambda value: value)

    async def close(self) -> None:
        pool = self.pools.pop(asyncio.get_running_loop(), None)
        while pool is not None and pool.idle:
            await pool.idle.pop().close()


def _span_attributes(statements: Sequence[tuple[str, tuple[Any, ...]]]) -> dict[str, str]:
    """The statements, without their parameters."""
    return {"db.system": "postgresql", "db.statement": "; ".join(sql for sql, _ in statements)}


@dataclass(slots=True)
class _LoopPool:
    slots: asyncio.Semaphore
    idle: list[psycopg.AsyncConnection[Any]]


Lookups = SqliteLookups | PostgresLookups


def lookups_for(engine: Engine) -> Lookups:
    """Where the cache looks things up, for the app's ``engine``."""
    if engine.dialect.name == "postgresql":
        return PostgresLookups(engine)
    return SqliteLookups(engine)
