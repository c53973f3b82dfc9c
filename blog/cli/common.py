"""What every ``blog`` command shares: settings, engines, output, and clean failures."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from blog.database import create_db_engine, new_session
from blog.settings import Settings, get_settings
from blog.tenancy import cross_tenant

console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Overrides BLOG_DATABASE_URL (and BLOG_MIGRATION_DATABASE_URL).",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error (no traceback) and exit non-zero."""
    err_console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code)


def load_settings(database_url: str | None = None) -> Settings:
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


@contextmanager
def database(url: str) -> Iterator[Engine]:
    """An engine for one command; bad or unreachable URLs become clean errors."""
    try:
        engine = create_db_engine(url)
    except (ArgumentError, ValueError) as exc:
        fail(f"bad database URL: {exc}")
    try:
        yield engine
    except OperationalError as exc:
        fail(f"database error: {str(exc.orig or exc).strip().splitlines()[0]}")
    finally:
        engine.dispose()


@contextmanager
def platform_session(engine: Engine, reason: str) -> Iterator[Session]:
    """A session for admin work that spans tenants, named as such (see blog.tenancy)."""
    with new_session(engine) as session, cross_tenant(session, reason):
        yield session
