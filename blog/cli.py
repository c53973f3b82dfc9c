"""The ``blog`` command: serve the API, migrate the database, create the demo blog."""

from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from pydantic import ValidationError
from rich.console import Console

from blog.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@demo.example"
DEMO_USERNAME = "demo-owner"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed for the local demo on purpose

console = Console()
err_console = Console(stderr=True)
app = typer.Typer(help="Run and administer the blog platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Overrides BLOG_DATABASE_URL (and BLOG_MIGRATION_DATABASE_URL).",
        show_default=False,
    ),
]


def _settings(database_url: str | None = None) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            err_console.print(f"[red]Configuration error:[/red] {error['msg']}")
        raise typer.Exit(2) from exc
    if database_url:
        settings = settings.model_copy(
            update={"database_url": database_url, "migration_database_url": None}
        )
    return settings


def alembic_config(database_url: str) -> Config:
    """Alembic configured for this project, whatever the current directory."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


@db_app.command("upgrade")
def db_upgrade(revision: str = "head", database_url: DatabaseUrl = None) -> None:
    """Apply migrations up to REVISION (default: the newest), as the tables' owner.

    On PostgreSQL, when the app connects as another role (BLOG_DATABASE_URL) than the
    owner (BLOG_MIGRATION_DATABASE_URL), that role is granted use of the tables.
    """
    from blog.database import create_db_engine, database_role, grant_app_role

    settings = _settings(database_url)
    command.upgrade(alembic_config(settings.owner_database_url), revision)
    if settings.owner_database_url == settings.database_url:
        return
    owner, app_engine = (
        create_db_engine(settings.owner_database_url),
        create_db_engine(settings.database_url),
    )
    try:
        role = database_role(app_engine)
        if role and role != database_role(owner):
            grant_app_role(owner, role)
            console.print(f"Granted the app role [bold]{role}[/bold] use of the tables.")
    finally:
        owner.dispose()
        app_engine.dispose()


@db_app.command("downgrade")
def db_downgrade(revision: str, database_url: DatabaseUrl = None) -> None:
    """Revert migrations down to REVISION (e.g. -1, or base)."""
    command.downgrade(alembic_config(_settings(database_url).owner_database_url), revision)


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the revision the database is at."""
    command.current(alembic_config(_settings(database_url).owner_database_url), verbose=True)


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Autogenerate a migration from the difference between models and database."""
    config = alembic_config(_settings(database_url).owner_database_url)
    command.revision(config, message=message, autogenerate=True)


@app.command()
def demo(database_url: DatabaseUrl = None) -> None:
    """Create a demo blog with an owner account, if the database has no blog yet."""
    from sqlmodel import select

    from blog.app import build_auth_config
    from blog.database import create_db_engine, new_session
    from blog.tenants import service as tenants_service
    from blog.tenants.models import Tenant
    from blog.tenants.schemas import TenantCreate
    from blog.users.schemas import UserCreate

    settings = _settings(database_url)
    engine = create_db_engine(settings.database_url)
    try:
        with new_session(engine) as session:
            if session.exec(select(Tenant.id).limit(1)).first() is not None:
                console.print("Database already has blogs; no demo created.")
                return
            tenants_service.create_tenant(
                session,
                hasher=build_auth_config(settings).hasher,
                data=TenantCreate(
                    slug=DEMO_SLUG,
                    name="Demo blog",
                    owner=UserCreate(
                        email=DEMO_EMAIL, username=DEMO_USERNAME, password=DEMO_PASSWORD
                    ),
                ),
            )
            session.commit()
    finally:
        engine.dispose()
    console.print(
        f"Created the demo blog [bold]{DEMO_SLUG}[/bold]. Log in as "
        f"[bold]{DEMO_EMAIL}[/bold] / [bold]{DEMO_PASSWORD}[/bold]."
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = _settings()
    console.print(f"API docs: http://{host}:{port}/docs")
    uvicorn.run(
        "blog.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
