"""What every ``blog`` command shares: settings, engines, output and clean failures, a
session bound to one tenant, and password input (option, hidden prompt or stdin)."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)
from sqlmodel import Session

from blog.auth.schemas import Password
from blog.auth.security import PasswordHasher
from blog.database import create_db_engine, new_session, unit_of_work
from blog.errors import BlogError
from blog.settings import Settings, get_settings
from blog.tenancy import bind_tenant, cross_tenant
from blog.tenants import service as tenants_service
from blog.tenants.exceptions import TenantNotFound
from blog.tenants.models import Tenant

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
    """Print a one-line error (no traceback) and exit non-zero.

    The message is escaped: errors quote input and patterns, whose square brackets are
    not rich markup.
    """
    err_console.print(f"[red]Error:[/red] {escape(message)}")
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
    """A session for admin work that spans tenants, named as such (see blog.tenancy), as
    one unit of work (committed when the command's work succeeds)."""
    with unit_of_work(new_session(engine)) as session, cross_tenant(session, reason):
        yield session


PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]

_PASSWORD = TypeAdapter(Password)


def validation_message(exc: ValidationError) -> str:
    """The first problems of a pydantic error, one line, never echoing the input."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
        for error in exc.errors()[:3]
    ]
    more = len(exc.errors()) - len(problems)
    return "invalid " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def clean_errors() -> Iterator[None]:
    """Domain errors, invalid input and refused writes become one line and exit 1."""
    try:
        yield
    except BlogError as exc:
        fail(exc.message)
    except ValidationError as exc:
        fail(validation_message(exc))
    except (IntegrityError, DataError) as exc:
        fail(f"the database refused the change: {_first_line(exc)}")
    except ProgrammingError as exc:
        fail(f"database error (is it migrated? blog db upgrade): {_first_line(exc)}")


@contextmanager
def tenant_session(engine: Engine, slug: str) -> Iterator[tuple[Session, Tenant]]:
    """A session bound to the blog ``slug`` (row-level security included), and the blog,
    as one unit of work: committed when the command's work succeeds, as a request's is."""
    with unit_of_work(new_session(engine)) as session:
        try:
            tenant = tenants_service.get_by_slug(session, slug=slug)
        except TenantNotFound:
            fail(f"no blog with the slug {slug!r}")
        bind_tenant(session, tenant.id)
        yield session, tenant


def read_password(*, given: str | None, from_stdin: bool, prompt: str) -> str:
    """The password from an option, one line of stdin, or a prompt typed twice, unechoed."""
    if given is not None and from_stdin:
        fail("give the password either as an option or with --password-stdin, not both")
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            fail("--password-stdin: no password on the first line of standard input")
        return password
    if given is not None:
        return given
    entered: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return entered


def check_password(password: str) -> str:
    """8+ characters, at most 72 bytes in UTF-8 (bcrypt's limit), no NUL; else exit 1."""
    try:
        return _PASSWORD.validate_python(password)
    except ValidationError as exc:
        fail(f"invalid password: {exc.errors()[0]['msg']}")


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(rounds=settings.bcrypt_rounds)


@contextmanager
def tenant_command(settings: Settings, slug: str) -> Iterator[tuple[Session, Tenant]]:
    """One admin command's work on one blog: clean errors, an engine, a bound session."""
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        tenant_session(engine, slug) as bound,
    ):
        yield bound
