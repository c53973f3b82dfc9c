"""Each blog's content version: bumped in the same transaction as every content change.

Every blog has a version number in ``tenant_versions``, with the time it last moved. Any
transaction that changes a blog's content (posts, tags, comments, favorites, follows,
accounts, the blog itself) bumps it *in the same transaction*, from the session hooks
below, so no write path can forget to.
The response cache (:mod:`blog.cache.middleware`) serves what it stored only under the
version it was made under.
"""

import time
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, UOWTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, col

from blog.database import PENDING_CHANGES, UTCDateTime, utcnow
from blog.tenancy import TenantScoped, bound_tenant, cross_tenant
from blog.tenants.models import Tenant


class TenantVersion(TenantScoped, table=True):
    """How many content-changing transactions a blog has seen. Tenant-owned like every
    row keyed by ``tenant_id``: scoped to the bound blog, under row-level security."""

    __tablename__ = "tenant_versions"

    version: int = Field(default=0, sa_type=sa.BigInteger)
    changed_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="When the version last moved (null: not since this column came).",
    )


# Tenant-owned tables whose rows never show in a cacheable response.
NOT_CONTENT = frozenset(
    {
        "refresh_tokens",
        "auth_sessions",
        "account_tokens",
        "rate_limit_hits",
        "tenant_versions",
        "jobs",
        "webhook_deliveries",  # its log's routes answer Cache-Control: no-store
        "post_autosaves",  # working copies: their routes answer Cache-Control: no-store
    }
)
# An execution option for a statement that changes no content of any response (a failed
# login counter): it must not empty a blog's cache, or wrong passwords would.
NOT_CONTENT_OPTION = "blog.not_content"
_CHANGED = PENDING_CHANGES
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
    if state.execution_options.get(NOT_CONTENT_OPTION):
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
    if not changed:
        return
    if bound_tenant(session) is None:
        # Platform work (a blog made or changed with none bound, as making one is before
        # its binding): row-level security lets its versions move as platform work too.
        with cross_tenant(session, "the versions of the blogs this transaction changed"):
            bump_versions(session, changed)
    else:
        bump_versions(session, changed)


def fresh_version() -> int:
    """A blog's first version: the time in microseconds, so that a blog deleted and made
    again with the same id (an import, a seed) never repeats a version a running server
    still holds; each change after it adds one."""
    return time.time_ns() // 1000


def bump_versions(session: OrmSession, tenant_ids: set[Any]) -> None:
    """Add one to each blog's version (every blog's, for ``"*"``), in this transaction.

    The session is bound to that blog, or cross-tenant for ``"*"``: row-level security
    refuses any other blog's version row."""
    table = TenantVersion.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # From the tenants table: a blog deleted in this very transaction gets no row.
    blogs = sa.true() if _ALL in tenant_ids else col(Tenant.id).in_(tenant_ids)
    now = sa.literal(utcnow(), UTCDateTime)
    rows = insert(table).from_select(
        ["tenant_id", "version", "changed_at"],
        sa.select(col(Tenant.id), sa.literal(fresh_version(), sa.BigInteger), now).where(blogs),
    )
    session.execute(
        rows.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"version": table.c.version + 1, "changed_at": rows.excluded.changed_at},
        )
    )


# Where the response cache leaves the blog it found (a FoundTenant), for the request.
FOUND_TENANT = "blog.found_tenant"


def found_version(request: Request, tenant_id: uuid.UUID) -> int | None:
    """The content version of ``tenant_id`` as the response cache found it for this request
    (None when it did not look): work keyed by it is shared until the blog next changes."""
    found = request.scope.get("state", {}).get(FOUND_TENANT)
    if found is None or found.id != tenant_id:
        return None
    version: int = found.version
    return version
