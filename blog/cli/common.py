"""What every ``blog`` command shares: settings, engines, output and clean failures, a
session bound to one tenant, and password input (option, hidden prompt or stdin)."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
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

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

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
    err_console.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def load_settings(database_url: str | None = None) -> Settings:
    """The settings, or one line naming each bad variable and exit 2."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = [
            f"BLOG_{str(error['loc'][0]).upper()}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors()
        ]
        fail("bad configuration: " + "; ".join(problems), code=2)
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


@contextmanager
def database(url: str, *, migrating: bool = False) -> Iterator[Engine]:
    """An engine for one command. A bad or unreachable URL, a driver not installed and
    (unless the command is ``migrating`` it) a database the migrations have not brought up
    to this code's schema become clean errors."""
    try:
        engine = create_db_engine(url)
    except (ArgumentError, ValueError) as exc:
        fail(f"bad database URL: {exc}")
    except ImportError as exc:
        fail(
            f"bad database URL: its driver ({exc.name}) is not installed; "
            "use sqlite:///FILE or postgresql://USER@HOST/NAME"
        )
    try:
        yield engine
    except (OperationalError, ProgrammingError) as exc:
        # A statement that failed (not a connection) may have met a schema not migrated yet.
        advice = None if migrating or exc.statement is None else _not_migrated(engine)
        fail(advice or f"database error: {_first_line(exc)}")
    finally:
        engine.dispose()


def _not_migrated(engine: Engine) -> str | None:
    """What to do if the database is not at this code's newest migration (else None)."""
    try:
        with engine.connect() as connection:  # raw-sql: alembic's version table
            current = set(MigrationContext.configure(connection).get_current_heads())
    except DBAPIError:
        return None  # the error that brought us here says more
    heads = set(ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads())
    if not current:
        return "the database has no migrations applied; run: blog db upgrade"
    if current != heads:
        at = ", ".join(sorted(current))
        return f"the database is at migration {at}, not the newest; run: blog db upgrade"
    return None


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
    """Domain errors, invalid input (an unknown migration included) and refused writes
    become one line and exit 1. Database errors are :func:`database`'s."""
    try:
        yield
    except BlogError as exc:
        fail(exc.message)
    except ValidationError as exc:
        fail(validation_message(exc))
    except CommandError as exc:
        fail(str(exc))
    except (IntegrityError, DataError) as exc:
        fail(f"the database refused the change: {_first_line(exc)}")


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
