"""PostgreSQL row-level security, seen from the app's own unprivileged role.

Isolation must hold even for SQL that bypasses the ORM's scoping: these tests use
raw SQL on the app's connection, setting (or not) the per-transaction tenant.
"""

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.app import create_app
from blog.database import create_db_engine, rls_escape_reasons
from blog.models import metadata
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.plugin import APP_ROLE
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _postgres_only(database_backend: str) -> None:
    if database_backend != "postgres":
        pytest.skip("row-level security is PostgreSQL's")


@pytest.fixture
def two_tenants(db: Session, tenant: Tenant, other_tenant: Tenant) -> tuple[Tenant, Tenant]:
    UserFactory.create_batch(2, tenant=tenant)
    UserFactory.create_batch(3, tenant=other_tenant)
    return tenant, other_tenant


def set_tenant(connection: sa.Connection, tenant: Tenant | None) -> None:
    connection.execute(
        sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),
        {"tenant": str(tenant.id) if tenant else ""},
    )


def user_tenants(connection: sa.Connection) -> list[str]:
    return [str(row[0]) for row in connection.execute(sa.text("SELECT tenant_id FROM users"))]


def test_app_role_cannot_escape_row_level_security(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT current_user")).scalar_one() == APP_ROLE

    assert rls_escape_reasons(engine) == []


def test_no_tenant_set_sees_no_rows(two_tenants: tuple[Tenant, Tenant], engine: Engine) -> None:
    with engine.begin() as connection:
        assert user_tenants(connection) == []
        set_tenant(connection, None)
        assert user_tenants(connection) == []


def test_tenant_set_sees_only_its_rows(two_tenants: tuple[Tenant, Tenant], engine: Engine) -> None:
    first, _ = two_tenants

    with engine.begin() as connection:
        set_tenant(connection, first)
        assert user_tenants(connection) == [str(first.id)] * 2


def test_writing_another_tenants_rows_fails(
    two_tenants: tuple[Tenant, Tenant], engine: Engine
) -> None:
    first, second = two_tenants

    with engine.begin() as connection:
        set_tenant(connection, first)
        updated = connection.execute(
            sa.text("UPDATE users SET bio = 'x' WHERE tenant_id = :other"),
            {"other": second.id},
        )
        assert updated.rowcount == 0

    moving = sa.text("UPDATE users SET tenant_id = :other WHERE tenant_id = :mine")
    with engine.begin() as connection:
        set_tenant(connection, first)
        with pytest.raises(sa.exc.ProgrammingError, match="row-level"):
            connection.execute(moving, {"other": second.id, "mine": first.id})

    inserting = sa.text(
        "INSERT INTO tags (tenant_id, id, name) VALUES (:other, gen_random_uuid(), 'x')"
    )
    with engine.begin() as connection:
        set_tenant(connection, first)
        with pytest.raises(sa.exc.ProgrammingError, match="row-level"):
            connection.execute(inserting, {"other": second.id})


def version_tenants(connection: sa.Connection) -> list[str]:
    rows = connection.execute(sa.text("SELECT tenant_id FROM tenant_versions ORDER BY tenant_id"))
    return [str(row[0]) for row in rows]


def test_no_tenant_set_sees_no_content_version_and_moves_none(
    two_tenants: tuple[Tenant, Tenant], engine: Engine, owner_engine: Engine
) -> None:
    with owner_engine.connect() as connection:
        before = connection.execute(sa.text("SELECT * FROM tenant_versions")).all()
    assert len(before) == 2  # each blog's version, bumped as its rows were written

    with engine.begin() as connection:
        assert version_tenants(connection) == []
        moved = connection.execute(sa.text("UPDATE tenant_versions SET version = 0"))
        assert moved.rowcount == 0

    with owner_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT * FROM tenant_versions")).all() == before


def test_tenant_set_sees_and_moves_only_its_content_version(
    two_tenants: tuple[Tenant, Tenant], engine: Engine, owner_engine: Engine
) -> None:
    first, second = two_tenants
    version_of = sa.text("SELECT version FROM tenant_versions WHERE tenant_id = :tenant")
    with owner_engine.connect() as connection:
        others = connection.execute(version_of, {"tenant": second.id}).scalar_one()

    with engine.begin() as connection:
        set_tenant(connection, first)
        assert version_tenants(connection) == [str(first.id)]
        moved = connection.execute(sa.text("UPDATE tenant_versions SET version = 0"))
        assert moved.rowcount == 1

    inserting = sa.text(
        "INSERT INTO tenant_versions (tenant_id, version) VALUES (:other, 1)"
        " ON CONFLICT (tenant_id) DO UPDATE SET version = 1"
    )
    with engine.begin() as connection:
        set_tenant(connection, first)
        with pytest.raises(sa.exc.ProgrammingError, match="row-level"):
            connection.execute(inserting, {"other": second.id})

    with owner_engine.connect() as connection:
        assert connection.execute(version_of, {"tenant": first.id}).scalar_one() == 0
        assert connection.execute(version_of, {"tenant": second.id}).scalar_one() == others


def test_every_tenant_owned_table_has_the_tenant_policy(engine: Engine) -> None:
    """A table keyed by ``tenant_id`` is tenant-owned: row-level security on and forced,
    under the one tenant policy (the same expression on every table)."""
    keyed = {table.name for table in metadata.tables.values() if "tenant_id" in table.c}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT c.relname, p.qual, p.with_check FROM pg_class c JOIN pg_policies p"
                " ON p.tablename = c.relname AND p.schemaname = current_schema()"
                " WHERE c.relrowsecurity AND c.relforcerowsecurity"
                " AND p.policyname = 'tenant_isolation'"
            )
        ).all()
    secured = {row.relname for row in rows}

    assert keyed - secured == set()
    assert len({(row.qual, row.with_check) for row in rows}) == 1


def test_tenant_setting_never_leaks_to_the_next_use_of_a_pooled_connection(
    two_tenants: tuple[Tenant, Tenant], database_url: str
) -> None:
    first, _ = two_tenants
    single = create_db_engine(database_url)
    single.pool.dispose()
    try:
        with single.begin() as connection:
            set_tenant(connection, first)
            backend = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with single.begin() as connection:
            assert connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == backend
            setting = connection.execute(
                sa.text("SELECT current_setting('app.tenant_id', true)")
            ).scalar_one()
            assert setting == ""
            assert user_tenants(connection) == []
    finally:
        single.dispose()


def test_cross_tenant_work_is_a_named_setting(
    two_tenants: tuple[Tenant, Tenant], engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("SELECT set_config('app.cross_tenant', 'counting accounts', true)")
        )
        assert len(user_tenants(connection)) == 5


@pytest.fixture
def superuser_settings(settings: Settings, owner_database_url: str) -> Settings:
    return settings.model_copy(
        update={"environment": "production", "database_url": owner_database_url}
    )


def test_production_refuses_a_role_that_escapes_row_level_security(
    superuser_settings: Settings,
) -> None:
    app = create_app(superuser_settings)

    with pytest.raises(RuntimeError, match="row-level security"), TestClient(app):
        pass
