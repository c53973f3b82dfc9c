"""Citus readiness: every table can be distributed by tenant_id as it is (blog/citus.py).

Checked on the models and on the migrated PostgreSQL database (migrations could diverge
from the models, and make indexes no model describes), and the checker is shown to see
each way a table can break the rules.
"""

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.schema import SchemaItem

from blog import citus
from blog.citus import Placement
from blog.database import create_db_engine
from blog.models import metadata
from tests.cli import Blog, one_line

MODELLED = citus.shapes_from_metadata(metadata)


def test_every_modelled_table_can_be_distributed_by_tenant_id() -> None:
    assert citus.problems(MODELLED) == []


def test_the_tables_without_tenant_id_are_placed_on_purpose() -> None:
    """A new table without tenant_id fails here until someone decides where it goes."""
    placed = {shape.name: citus.placement(shape) for shape in MODELLED if not shape.tenant_owned}

    assert placed == {"tenants": Placement.reference, "rate_limit_hits": Placement.coordinator}


def test_reference_tables_come_first_then_tenant_owned_tables_after_those_they_refer_to() -> None:
    statements = citus.distribution_statements(MODELLED)

    assert statements[:2] == [
        "SELECT create_reference_table('tenants');",
        "SELECT create_distributed_table('users', 'tenant_id');",
    ]
    distributed = [shape.name for shape in MODELLED if shape.tenant_owned]
    assert len(statements) == 1 + len(distributed)
    position = {name: index for index, name in enumerate(map(table_of, statements))}
    for shape in MODELLED:
        for key in shape.foreign_keys:
            assert position[key.referred_table] < position[shape.name], key
    assert all(statement.endswith("colocate_with => 'users');") for statement in statements[2:])


def table_of(statement: str) -> str:
    return statement.split("'")[1]


# --- the migrated database (PostgreSQL: what Citus distributes) -----------------------------


@pytest.fixture
def postgres_only(database_backend: str) -> None:
    if database_backend != "postgres":
        pytest.skip("Citus distributes PostgreSQL tables")


@pytest.mark.usefixtures("postgres_only")
def test_the_migrated_database_distributes_as_the_models_do(owner_engine: Engine) -> None:
    with owner_engine.connect() as connection:
        migrated = citus.shapes_from_database(connection)

    assert citus.problems(migrated) == []
    assert citus.distribution_statements(migrated) == citus.distribution_statements(MODELLED)


@pytest.mark.usefixtures("postgres_only")
def test_what_a_citus_deployment_must_handle_by_hand_is_what_the_readme_names(
    owner_engine: Engine,
) -> None:
    """Triggers run on the workers' shards (citus.enable_unsafe_triggers), extensions must be
    installed on every node, sequences would hand out ids per node: the README's Citus notes
    name each one there is. A new one fails here until they do."""
    with owner_engine.connect() as connection:
        triggers = connection.exec_driver_sql(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).all()
        extensions = connection.exec_driver_sql("SELECT extname FROM pg_extension").scalars()
        sequences = connection.exec_driver_sql(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        ).scalars()

    assert [tuple(row) for row in triggers] == [("posts", "posts_search_vector")]
    assert set(extensions) == {"plpgsql", "btree_gin"}
    assert list(sequences) == []


# --- the checker sees each way a table breaks the rules -------------------------------------


def good_tables() -> sa.MetaData:
    """A blog's tenants and users, as they should be."""
    schema = sa.MetaData()
    sa.Table("tenants", schema, sa.Column("id", sa.Uuid, primary_key=True))
    sa.Table(
        "users",
        schema,
        sa.Column("tenant_id", sa.Uuid, sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String),
        sa.UniqueConstraint("tenant_id", "email"),
    )
    sa.Table(
        "rate_limit_hits", schema, sa.Column("key", sa.String, primary_key=True)
    )  # placed on the coordinator
    return schema


def note_table(schema: sa.MetaData, *extra: SchemaItem, pk: str = "tenant_id id") -> None:
    """``notes``: tenant-owned, with the primary key ``pk`` and ``extra`` columns or keys."""
    sa.Table(
        "notes",
        schema,
        sa.Column("tenant_id", sa.Uuid, primary_key="tenant_id" in pk.split()),
        sa.Column("id", sa.Uuid, primary_key="id" in pk.split()),
        sa.Column("code", sa.String),
        sa.Column("user_id", sa.Uuid),
        *extra,
    )


BROKEN = {
    "primary key without tenant_id": (
        lambda schema: note_table(schema, pk="id"),
        "notes: primary key (id) lacks tenant_id",
    ),
    "unique constraint without tenant_id": (
        lambda schema: note_table(schema, sa.UniqueConstraint("code", name="uq_code")),
        "notes: unique key uq_code (code) lacks tenant_id",
    ),
    "unique index without tenant_id": (
        lambda schema: note_table(schema, sa.Index("ix_code", "code", unique=True)),
        "notes: unique key ix_code (code) lacks tenant_id",
    ),
    "partial unique index without tenant_id": (
        lambda schema: note_table(
            schema,
            sa.Index("ix_code", "code", unique=True, postgresql_where=sa.text("code IS NOT NULL")),
        ),
        "notes: unique key ix_code (code) lacks tenant_id",
    ),
    "foreign key to a tenant-owned table without tenant_id": (
        lambda schema: note_table(schema, sa.ForeignKeyConstraint(["user_id"], ["users.id"])),
        "notes: foreign key (user_id) -> users (id) does not map tenant_id to users.tenant_id",
    ),
    "foreign key mapping tenant_id to another column": (
        lambda schema: note_table(
            schema,
            sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.id", "users.tenant_id"]),
        ),
        "notes: foreign key (tenant_id, user_id) -> users (id, tenant_id) does not map "
        "tenant_id to users.tenant_id",
    ),
    "foreign key to a coordinator table": (
        lambda schema: note_table(
            schema, sa.ForeignKeyConstraint(["code"], ["rate_limit_hits.key"])
        ),
        "notes: foreign key (code) -> rate_limit_hits (key) refers to a coordinator table; "
        "a distributed table may refer only to distributed and reference tables",
    ),
    "table without tenant_id nobody placed": (
        lambda schema: sa.Table("widgets", schema, sa.Column("id", sa.Uuid, primary_key=True)),
        "widgets: no tenant_id and not placed; add it to blog.citus.NOT_TENANT_OWNED "
        "(reference or coordinator), or give it a tenant",
    ),
    "reference table referring to a tenant-owned one": (
        lambda schema: schema.tables["tenants"].append_constraint(
            sa.ForeignKeyConstraint(["id"], ["users.id"])
        ),
        "tenants: a reference table's foreign key (id) -> users (id) refers to a distributed "
        "table; Citus allows it only to reference tables",
    ),
    "placed table that has tenant_id": (
        lambda schema: schema.tables["rate_limit_hits"].append_column(
            sa.Column("tenant_id", sa.Uuid, primary_key=True)
        ),
        "rate_limit_hits: has tenant_id, so it is distributed; remove it from "
        "blog.citus.NOT_TENANT_OWNED",
    ),
}


def test_the_good_tables_pass() -> None:
    shapes = citus.shapes_from_metadata(good_tables())

    assert citus.problems(shapes) == []
    assert citus.distribution_statements(shapes) == [
        "SELECT create_reference_table('tenants');",
        "SELECT create_distributed_table('users', 'tenant_id');",
    ]


@pytest.mark.parametrize(("break_it", "problem"), BROKEN.values(), ids=BROKEN)
def test_each_broken_rule_is_named(break_it: object, problem: str) -> None:
    schema = good_tables()
    break_it(schema)  # type: ignore[operator]
    shapes = citus.shapes_from_metadata(schema)

    assert citus.problems(shapes) == [problem]
    with pytest.raises(ValueError, match=re.escape(problem)):
        citus.distribution_statements(shapes)


@pytest.mark.usefixtures("postgres_only")
def test_the_database_walk_sees_unique_indexes_only_migrations_make(
    empty_database_url: str,
) -> None:
    """Raw SQL in a migration can make a unique index no model has: partial, or on an
    expression."""
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            good_tables().create_all(connection)
            note_table(schema := sa.MetaData())
            schema.create_all(connection)
            for statement in (
                "CREATE UNIQUE INDEX ix_code ON notes (code) WHERE code IS NOT NULL",
                "CREATE UNIQUE INDEX ix_code_lower ON notes (lower(code))",
                "CREATE UNIQUE INDEX ix_tenant_code ON notes (tenant_id, lower(code))",
            ):
                connection.exec_driver_sql(statement)
        with engine.connect() as connection:
            found = citus.problems(citus.shapes_from_database(connection))
    finally:
        engine.dispose()

    assert sorted(found) == [
        "notes: unique key ix_code (code) lacks tenant_id",
        "notes: unique key ix_code_lower (lower(code::text)) lacks tenant_id",
    ]


# --- blog db citus-sql ----------------------------------------------------------------------


@pytest.mark.usefixtures("cli_settings", "postgres_only")
def test_citus_sql_prints_the_calls_for_the_migrated_database(blog: Blog) -> None:
    result = blog("db", "citus-sql")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == citus.distribution_statements(MODELLED)


@pytest.mark.usefixtures("cli_settings", "postgres_only")
def test_citus_sql_names_what_stops_a_table_and_prints_no_calls(
    blog: Blog, empty_database_url: str
) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            schema = good_tables()
            note_table(schema, sa.UniqueConstraint("code", name="uq_code"))
            schema.create_all(connection)
            # As if a migration had made it.
            connection.exec_driver_sql("CREATE TABLE alembic_version (version_num text)")
            connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('a1b2c3')")
    finally:
        engine.dispose()

    result = blog("db", "citus-sql", url=empty_database_url)

    assert result.exit_code == 1
    assert "create_" not in result.output
    assert "notes: unique key uq_code (code) lacks tenant_id" in result.output
    assert "1 thing(s) stop these tables from being distributed by tenant_id" in result.output


@pytest.mark.usefixtures("cli_settings")
def test_citus_sql_on_sqlite_says_citus_is_postgresql(blog: Blog, database_backend: str) -> None:
    if database_backend != "sqlite":
        pytest.skip("the test database is PostgreSQL")

    result = blog("db", "citus-sql")

    assert one_line(result) == "Error: Citus distributes PostgreSQL tables; this database is sqlite"


@pytest.mark.usefixtures("cli_settings", "postgres_only")
def test_citus_sql_on_an_unmigrated_database_says_to_migrate_it(
    blog: Blog, empty_database_url: str
) -> None:
    result = blog("db", "citus-sql", url=empty_database_url)

    assert one_line(result) == "Error: the database has no migrations applied; run: blog db upgrade"
