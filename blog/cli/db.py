"""``blog db``: thin wrappers over Alembic, and checks of the schema they made, run as the
tables' owner."""

from typing import Annotated

import typer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from blog.cli.common import (
    DatabaseUrl,
    alembic_config,
    clean_errors,
    console,
    database,
    err_console,
    fail,
    load_settings,
)

app = typer.Typer(
    help="Database migrations (Alembic). Example: blog db upgrade", no_args_is_help=True
)


@app.command("upgrade")
def upgrade(
    revision: Annotated[
        str | None,
        typer.Argument(
            help="The migration to reach (default: head, the newest).", show_default=False
        ),
    ] = None,
    revision_option: Annotated[
        str | None, typer.Option("--revision", help="The same as REVISION.", show_default=False)
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Apply migrations up to REVISION (default: the newest), as the tables' owner.

    On PostgreSQL, when the app connects as another role (BLOG_DATABASE_URL) than the
    owner (BLOG_MIGRATION_DATABASE_URL), that role is granted use of the tables.

    Example: blog db upgrade
    """
    from blog.database import database_role, grant_app_role

    if revision is not None and revision_option is not None:
        fail("give the revision once: as REVISION or as --revision")
    settings = load_settings(database_url)
    with clean_errors(), database(settings.owner_database_url, migrating=True):
        command.upgrade(
            alembic_config(settings.owner_database_url), revision or revision_option or "head"
        )
    if settings.owner_database_url == settings.database_url:
        return
    with database(settings.owner_database_url) as owner, database(settings.database_url) as app_:
        role = database_role(app_)
        if role and role != database_role(owner):
            grant_app_role(owner, role)
            console.print(f"Granted the app role [bold]{role}[/bold] use of the tables.")


@app.command("downgrade")
def downgrade(revision: str, database_url: DatabaseUrl = None) -> None:
    """Revert migrations down to REVISION (e.g. -1, or base).

    Example: blog db downgrade -1
    """
    url = load_settings(database_url).owner_database_url
    with clean_errors(), database(url, migrating=True):
        command.downgrade(alembic_config(url), revision)


@app.command("current")
def current(database_url: DatabaseUrl = None) -> None:
    """Show the revision the database is at.

    Example: blog db current
    """
    url = load_settings(database_url).owner_database_url
    with clean_errors(), database(url):
        command.current(alembic_config(url), verbose=True)


@app.command("revision")
def revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Autogenerate a migration from the difference between models and database.

    Example: blog db revision -m "add a subtitle to posts"
    """
    url = load_settings(database_url).owner_database_url
    with clean_errors(), database(url):
        command.revision(alembic_config(url), message=message, autogenerate=True)


@app.command("check")
def check(database_url: DatabaseUrl = None) -> None:
    """Fail (exit 1) when the database, migrated to head, differs from the models.

    Example: blog db check --database-url sqlite:///./blog.db
    """
    from blog.models import metadata

    url = load_settings(database_url).owner_database_url
    with database(url) as engine, engine.connect() as connection:  # raw-sql: schema, as owner
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        if context.get_current_revision() is None:
            fail("the database has no migrations applied; run: blog db upgrade")
        differences = compare_metadata(context, metadata)
    if differences:
        for difference in differences:
            console.print(f"  {difference}")
        fail(f"models and migrations differ in {len(differences)} place(s)")
    console.print("Models and migrations agree.")


@app.command("citus-sql")
def citus_sql(database_url: DatabaseUrl = None) -> None:
    """Print the Citus calls that distribute the migrated PostgreSQL database's tables by
    tenant_id (reference tables first, every tenant-owned table colocated); fail (exit 1)
    naming each table, key or foreign key that stops it.

    Example: blog db citus-sql > distribute.sql
    """
    from blog import citus

    url = load_settings(database_url).owner_database_url
    with database(url) as engine:
        if engine.dialect.name != "postgresql":
            fail(f"Citus distributes PostgreSQL tables; this database is {engine.dialect.name}")
        with engine.connect() as connection:  # raw-sql: the catalog, as owner
            if MigrationContext.configure(connection).get_current_revision() is None:
                fail("the database has no migrations applied; run: blog db upgrade")
            shapes = citus.shapes_from_database(connection)
    if problems := citus.problems(shapes):
        for problem in problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
        fail(f"{len(problems)} thing(s) stop these tables from being distributed by tenant_id")
    for statement in citus.distribution_statements(shapes):
        typer.echo(statement)
