"""Alembic is the source of truth for the schema: it must match the models exactly."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from blog.cli import alembic_config
from blog.database import create_db_engine
from blog.models import metadata
from blog.testing.plugin import (
    create_postgres_database,
    drop_postgres_database,
    postgres_server_url,
)


@pytest.fixture
def empty_database_url(
    database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database with no tables at all, separate from the one other tests use."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'empty.db'}"
        return
    url = create_postgres_database(postgres_server_url(), prefix="blog_migrations")
    yield url
    drop_postgres_database(url)


def schema_differences(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_matches_models_and_downgrade_round_trips(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)

    command.upgrade(config, "head")
    assert schema_differences(empty_database_url) == []

    command.downgrade(config, "base")
    assert table_names(empty_database_url) <= {"alembic_version"}

    command.upgrade(config, "head")
    assert schema_differences(empty_database_url) == []
    assert {table.name for table in metadata.sorted_tables} <= table_names(empty_database_url)
