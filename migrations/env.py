"""Alembic environment: the app's metadata, URL from settings (or the caller's config)."""

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel.sql.sqltypes import AutoString

from blog.database import UTCDateTime, create_db_engine
from blog.models import metadata
from blog.posts.search import include_object
from blog.settings import get_settings

config = context.config


def _database_url() -> str:
    configured = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(configured or get_settings().database_url)


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Write plain SQLAlchemy types into migrations, not this project's wrappers."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        render_item=render_item,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _migrate(connection: sa.Connection) -> None:
    """Run the migrations. On SQLite, with foreign keys off: a migration that must rebuild
    a table (SQLite alters little in place) drops the old one, and a drop with foreign
    keys on deletes its rows first, cascading to every table that refers to it. They are
    checked once the migrations have run, before the work is committed."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # (no write yet: the pragma takes effect outside a transaction)
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # so that the migrations' transaction is their own
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise RuntimeError("the migrations left rows whose foreign keys point nowhere")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_db_engine(_database_url())
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
