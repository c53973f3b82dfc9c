"""Tenant scoping: one mechanism, failing closed.

Every tenant-owned table model inherits :class:`TenantScoped`. A session is bound
to one tenant with :func:`bind_tenant`; from then on every ORM SELECT, UPDATE and
DELETE that touches a tenant-owned table (including counts, subqueries and
relationship loads) gets ``tenant_id = :bound`` added by the ``do_orm_execute``
hook below, and every row flushed must belong to that tenant. A query on a
tenant-owned table in a session bound to no tenant raises
:class:`TenantScopeError` instead of returning every tenant's rows. Work that
legitimately spans tenants says so with :func:`cross_tenant`.

On PostgreSQL the same binding is handed to the database: every transaction of the
session sets ``app.tenant_id`` (and ``app.cross_tenant``), which the row-level
security policies check, so isolation does not rest on this module alone. Raw SQL
through a session is refused unless marked with
``execution_options(raw_sql_reason="...")``.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, UOWTransaction, with_loader_criteria
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.util import find_tables
from sqlmodel import Field, SQLModel, col

_TENANT = "blog.tenant_id"
_CROSS_TENANT = "blog.cross_tenant_reason"


class TenantScopeError(RuntimeError):
    """A tenant-owned table was used without a tenant in context (a programming error)."""


class TenantScoped(SQLModel):
    """Base of every tenant-owned table: ``tenant_id`` leads the primary key.

    Keys and foreign keys of tenant-owned tables all include ``tenant_id``, so the
    database refuses cross-tenant links and every table can be distributed by
    tenant (Citus).
    """

    tenant_id: uuid.UUID = Field(foreign_key="tenants.id", primary_key=True, ondelete="CASCADE")


def bind_tenant(session: OrmSession, tenant_id: uuid.UUID) -> None:
    """Scope every later statement of ``session`` to ``tenant_id``."""
    session.info[_TENANT] = tenant_id
    _hand_to_database(session)


def bound_tenant(session: OrmSession) -> uuid.UUID | None:
    """The tenant ``session`` is scoped to, if any."""
    tenant_id: uuid.UUID | None = session.info.get(_TENANT)
    return tenant_id


@contextmanager
def cross_tenant(session: OrmSession, reason: str) -> Iterator[OrmSession]:
    """Explicitly lift tenant scoping for platform work (e.g. deleting a tenant).

    The reason is required so every such place reads as deliberate.
    """
    if not reason:
        raise ValueError("cross_tenant() needs a reason")
    previous = session.info.get(_CROSS_TENANT)
    session.info[_CROSS_TENANT] = reason
    _hand_to_database(session)
    try:
        yield session
    except BaseException:
        _restore_cross_tenant(session, previous)
        # A statement the database refused aborts a PostgreSQL transaction, which then
        # ends with this error (rolled back, its scope with it): handing the scope back
        # would only fail again and bury the error. A transaction still usable gets it.
        with suppress(sa.exc.DBAPIError, sa.exc.PendingRollbackError):
            _hand_to_database(session)
        raise
    _restore_cross_tenant(session, previous)
    _hand_to_database(session)


def _restore_cross_tenant(session: OrmSession, previous: str | None) -> None:
    if previous is None:
        session.info.pop(_CROSS_TENANT, None)
    else:
        session.info[_CROSS_TENANT] = previous


_SET_SCOPE = sa.text(
    "SELECT set_config('app.tenant_id', :tenant_id, true),"
    " set_config('app.cross_tenant', :cross_tenant, true)"
)


def _set_database_scope(session: OrmSession, connection: sa.Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant_id = bound_tenant(session)
    connection.execute(
        _SET_SCOPE,
        {
            "tenant_id": str(tenant_id) if tenant_id else "",
            "cross_tenant": session.info.get(_CROSS_TENANT) or "",
        },
    )


def _hand_to_database(session: OrmSession) -> None:
    """Apply a changed binding to the transaction already under way, if any."""
    if session.in_transaction():
        _set_database_scope(session, session.connection())


@sa.event.listens_for(OrmSession, "after_begin")
def _scope_new_transaction(
    session: OrmSession, _transaction: object, connection: sa.Connection
) -> None:
    # set_config(..., true) lasts until the transaction ends, so a pooled connection
    # never carries one request's tenant into the next, and a transaction starts with
    # nothing set: only a binding made before it began needs sending (a request binds
    # after its first query, and bind_tenant sends it then).
    if bound_tenant(session) is not None or session.info.get(_CROSS_TENANT):
        _set_database_scope(session, connection)


@cache
def tenant_models() -> tuple[type[TenantScoped], ...]:
    """Every mapped tenant-owned model (all models are imported before first use)."""
    models = [
        mapper.class_
        for mapper in SQLModel._sa_registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    ]
    return tuple(sorted(models, key=lambda model: model.__name__))


@cache
def _tenant_tables() -> frozenset[sa.Table]:
    return frozenset(model.__table__ for model in tenant_models())  # type: ignore[attr-defined]


def _touches_tenant_tables(statement: Any) -> bool:
    tables = _tenant_tables()
    return any(
        table in tables
        for table in find_tables(statement, check_columns=True, include_aliases=True)
    )


@sa.event.listens_for(OrmSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if isinstance(state.statement, sa.TextClause) and not state.execution_options.get(
        "raw_sql_reason"
    ):
        raise TenantScopeError(
            "raw SQL through a session escapes tenant scoping; use the ORM, or mark it with "
            ".execution_options(raw_sql_reason=...)"
        )
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = bound_tenant(state.session)
    if tenant_id is None:
        if state.session.info.get(_CROSS_TENANT) or not _touches_tenant_tables(state.statement):
            return
        raise TenantScopeError("tenant-owned table queried with no tenant bound to the session")
    state.statement = state.statement.options(*_scoping_options(tenant_id))


@lru_cache(maxsize=4096)
def _scoping_options(tenant_id: uuid.UUID) -> tuple[Any, ...]:
    """``tenant_id = :bound`` for every tenant-owned model, built once per tenant.

    Building these expressions per statement cost more than running most queries. The
    tenant's id travels as a bound parameter, so the compiled SQL is cached across
    requests and tenants alike (tests/test_tenancy.py checks); on statements without
    tenant-owned tables it adds nothing.
    """
    return tuple(
        with_loader_criteria(model, col(model.tenant_id) == tenant_id, include_aliases=True)
        for model in tenant_models()
    )


@sa.event.listens_for(OrmSession, "before_flush")
def _check_flushed_rows(session: OrmSession, _tx: UOWTransaction, _instances: object) -> None:
    if session.info.get(_CROSS_TENANT):
        return
    tenant_id = bound_tenant(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
            raise TenantScopeError(
                f"{type(obj).__name__} of another tenant flushed in a session scoped to {tenant_id}"
            )
