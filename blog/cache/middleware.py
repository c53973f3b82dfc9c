"""A response cache for reads that stays correct: keyed by each blog's content version.

Every blog has a version number in ``tenant_versions``. Any transaction that changes a
blog's content (posts, tags, comments, favorites, follows, accounts, the blog itself)
bumps it *in the same transaction*, from session hooks below, so no write path can
forget to. The middleware reads the blog's current version (one indexed lookup) and
serves a stored response only if it was made under that version, for the very same
URL and the very same ``Authorization`` header (so one viewer never gets another's
answer: drafts, ``favorited``, ``following``, ``/users/me``), and only while that
token is unexpired. Each worker keeps its own bounded LRU; they agree because the
version lives in the database they share. Responses carry an ``ETag`` derived from the
key, and ``If-None-Match`` gets a 304.
"""

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, UOWTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel, col
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.database import create_lookup_engine
from blog.tenancy import TenantScoped, bound_tenant
from blog.tenants.models import Tenant

logger = logging.getLogger(__name__)


class TenantVersion(SQLModel, table=True):
    """How many content-changing transactions a blog has seen. Holds no content, so it
    needs no row-level security; keyed by ``tenant_id``, so it distributes like the rest."""

    __tablename__ = "tenant_versions"

    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", primary_key=True, ondelete="CASCADE")
    version: int = Field(default=0, sa_type=sa.BigInteger)


# Tenant-owned tables whose rows never show in a cacheable response.
NOT_CONTENT = frozenset({"refresh_tokens", "rate_limit_hits", "tenant_versions"})
_CHANGED = "blog.cache.changed_tenants"
_ALL = "*"  # a change whose blog cannot be told (a cross-tenant bulk statement)


def _changed(session: OrmSession) -> set[Any]:
    changed: set[Any] = session.info.setdefault(_CHANGED, set())
    return changed


@sa.event.listens_for(OrmSession, "after_flush")
def _note_flushed_changes(session: OrmSession, _tx: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Tenant):
            _changed(session).add(obj.id)
        elif isinstance(obj, TenantScoped) and obj.__tablename__ not in NOT_CONTENT:
            _changed(session).add(obj.tenant_id)


@sa.event.listens_for(OrmSession, "do_orm_execute")
def _note_statement_changes(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is None or getattr(table, "name", None) in NOT_CONTENT:
        return
    _changed(state.session).add(bound_tenant(state.session) or _ALL)


@sa.event.listens_for(OrmSession, "before_commit")
def _bump_versions(session: OrmSession) -> None:
    # Commit flushes after this hook: flush first, to note those changes too. Nothing is
    # forgotten on a rollback (a savepoint's would take the outer transaction's along);
    # at worst a later commit bumps once more than it needed to.
    session.flush()
    changed = session.info.pop(_CHANGED, None)
    if changed:
        bump_versions(session, changed)


def bump_versions(session: OrmSession, tenant_ids: set[Any]) -> None:
    """Add one to each blog's version (every blog's, for ``"*"``), in this transaction."""
    table = TenantVersion.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # From the tenants table: a blog deleted in this very transaction gets no row.
    blogs = sa.true() if _ALL in tenant_ids else col(Tenant.id).in_(tenant_ids)
    rows = insert(table).from_select(
        ["tenant_id", "version"], sa.select(col(Tenant.id), sa.literal(1)).where(blogs)
    )
    session.execute(
        rows.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"version": table.c.version + 1}
        )
    )


# --- the middleware -----------------------------------------------------------------------

LOOKUP_TIMEOUT_S = 2
SEEN_KEYS = 50_000  # digests of URLs read once, about 8 MiB at most

# The blog named by a path: the native API's and the RealWorld API's.
_TENANT_PATH = re.compile(r"^/(?:api/v1/tenants|conduit)/([^/]+)(?:/|$)")


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    expires_at: float | None  # the token's expiry, for a response to a token

    @property
    def size(self) -> int:
        """Bytes held, with an allowance for the key, headers and objects around them."""
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 600


def _token_expiry(authorization: bytes) -> float | None:
    """The ``exp`` of the JWT in an Authorization header. Read unverified: an entry is
    only stored after the app accepted this very header."""
    try:
        token = authorization.split(b" ", 1)[1].strip()
        payload = token.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0  # unreadable: never served from the cache


class SqliteVersions:
    """Blog id and content version by slug, on a lookup engine's own connection (see
    :func:`blog.database.create_lookup_engine`): a lookup must never wait for a connection
    that a request holds while the request waits for the lookup. SQLite is a local file:
    asking it on the event loop is faster than a hop to a thread.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = create_lookup_engine(engine)
        versions = TenantVersion.__table__  # type: ignore[attr-defined]
        self.query = (
            sa.select(col(Tenant.id), sa.func.coalesce(versions.c.version, 0))
            .select_from(Tenant)
            .outerjoin(versions, versions.c.tenant_id == col(Tenant.id))
            .where(col(Tenant.slug) == sa.bindparam("slug"))
        )

    async def get(self, slug: str) -> tuple[Any, int] | None:
        with self.engine.connect() as connection:  # raw-sql: platform rows, no tenant yet
            row = connection.execute(self.query, {"slug": slug}).first()
        return (row[0], row[1]) if row else None

    async def close(self) -> None:
        self.engine.dispose()


class PostgresVersions:
    """The same lookup over a few asynchronous psycopg connections of its own: on the
    event loop, without a hop to a thread, and never blocking it on the network."""

    SQL = (
        "SELECT t.id, coalesce(v.version, 0) FROM tenants t "
        "LEFT JOIN tenant_versions v ON v.tenant_id = t.id WHERE t.slug = %s"
    )

    def __init__(self, engine: Engine, *, connections: int = 4) -> None:
        url = engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(connections)

    async def get(self, slug: str) -> tuple[Any, int] | None:
        async with self.slots:
            connection = self.idle.pop() if self.idle else None
            try:
                async with asyncio.timeout(LOOKUP_TIMEOUT_S):  # a silent network: no cache
                    if connection is None:
                        connection = await psycopg.AsyncConnection.connect(  # raw-sql: platform
                            self.conninfo, autocommit=True
                        )
                    cursor = await connection.execute(self.SQL, (slug,))  # raw-sql: platform rows
                    row = await cursor.fetchone()
            except (psycopg.Error, TimeoutError):
                if connection is not None:
                    await connection.close()
                raise sa.exc.OperationalError(self.SQL, (), None) from None  # type: ignore[arg-type]
            self.idle.append(connection)
        return (row[0], row[1]) if row else None

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().close()


def version_source(engine: Engine) -> "Versions":
    """Where the cache reads blog versions, for the app's ``engine``."""
    if engine.dialect.name == "postgresql":
        return PostgresVersions(engine)
    return SqliteVersions(engine)


Versions = SqliteVersions | PostgresVersions


class ResponseCache:
    """Serves repeated GETs under a blog's path from memory while its version holds."""

    def __init__(self, app: ASGIApp, *, versions: Versions, max_bytes: int) -> None:
        self.app = app
        self.versions = versions
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self.stored_bytes = 0
        # Admission on the second sighting: a URL read once (a crawler, a deep page) costs
        # a digest here, not a stored body, so memory stays flat under cold reads.
        self.seen: OrderedDict[bytes, None] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        match = _TENANT_PATH.match(scope["path"])
        if match is None or "\x00" in match[1] or len(match[1]) > 100:
            await self.app(scope, receive, send)
            return
        try:
            found = await self.versions.get(match[1])
        except sa.exc.SQLAlchemyError:
            found = None  # the app will answer (503) as it would without a cache
        if found is None:
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        authorization = request_headers.get("authorization", "").encode("latin-1")
        key = (
            *found,
            hashlib.blake2b(authorization).digest(),
            scope["path"],
            scope["query_string"],
        )
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
        etag = f'"{found[1]}-{digest.hex()}"'
        extra = [
            (b"etag", etag.encode()),
            (b"cache-control", b"private, no-cache" if authorization else b"no-cache"),
            (b"vary", b"Authorization"),
        ]
        entry = self.entries.get(key)
        if entry is not None and (entry.expires_at is None or entry.expires_at > time.time()):
            self.entries.move_to_end(key)
            if request_headers.get("if-none-match") == etag:
                await _respond(send, 304, extra, b"")
            else:
                await _respond(send, entry.status, entry.headers + extra, entry.body)
            return
        await self._fill(scope, receive, send, key, digest, extra, authorization)

    async def _fill(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[Any, ...],
        digest: bytes,
        extra: list[tuple[bytes, bytes]],
        authorization: bytes,
    ) -> None:
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] == 200:
                    message = {**message, "headers": [*message["headers"], *extra]}
            elif message["type"] == "http.response.body" and start.get("status") == 200:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self._store(key, digest, start, bytes(body), authorization)
            await send(message)

        await self.app(scope, receive, capture)

    def _admit(self, digest: bytes) -> bool:
        if digest in self.seen:
            del self.seen[digest]
            return True
        self.seen[digest] = None
        if len(self.seen) > SEEN_KEYS:
            self.seen.popitem(last=False)
        return False

    def _store(
        self, key: tuple[Any, ...], digest: bytes, start: Message, body: bytes, auth: bytes
    ) -> None:
        if not self._admit(digest):
            return
        entry = Entry(200, list(start["headers"]), body, _token_expiry(auth) if auth else None)
        if entry.size > self.max_bytes // 8:
            return  # a huge answer would evict everything else
        old = self.entries.pop(key, None)
        if old is not None:
            self.stored_bytes -= old.size
        self.entries[key] = entry
        self.stored_bytes += entry.size
        while self.stored_bytes > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.stored_bytes -= evicted.size


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
