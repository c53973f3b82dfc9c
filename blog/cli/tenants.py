"""``blog tenants``: create, list, show and delete blogs, as the platform's operator.

Also what every per-tenant admin command shares: a session bound to one tenant,
password input (option, hidden prompt or one line of stdin) and clean errors.
"""

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlmodel import Session

import blog.models  # noqa: F401 - every table is mapped before tenancy lists them
from blog.auth.schemas import Password
from blog.auth.security import PasswordHasher
from blog.cli.common import (
    DatabaseUrl,
    console,
    database,
    err_console,
    fail,
    load_settings,
    platform_session,
)
from blog.database import new_session
from blog.errors import BlogError
from blog.settings import Settings
from blog.tenancy import bind_tenant
from blog.tenants import service as tenants_service
from blog.tenants.exceptions import TenantNotFound
from blog.tenants.models import Tenant
from blog.tenants.schemas import TenantCreate
from blog.users.models import USERNAME_MAX_LENGTH

app = typer.Typer(
    help="Create, list, show and delete blogs. Example: blog tenants list",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]

_PASSWORD = TypeAdapter(Password)


def refuse(message: str) -> NoReturn:
    """``fail``, for messages holding input or patterns: square brackets are not markup."""
    fail(escape(message))


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
        refuse(exc.message)
    except ValidationError as exc:
        refuse(validation_message(exc))
    except (IntegrityError, DataError) as exc:
        refuse(f"the database refused the change: {_first_line(exc)}")
    except ProgrammingError as exc:
        refuse(f"database error (is it migrated? blog db upgrade): {_first_line(exc)}")


@contextmanager
def tenant_session(engine: Engine, slug: str) -> Iterator[tuple[Session, Tenant]]:
    """A session bound to the blog ``slug`` (row-level security included), and the blog.

    Nothing is committed unless the caller commits.
    """
    with new_session(engine) as session:
        try:
            tenant = tenants_service.get_by_slug(session, slug=slug)
        except TenantNotFound:
            refuse(f"no blog with the slug {slug!r}")
        bind_tenant(session, tenant.id)
        yield session, tenant


def read_password(*, given: str | None, from_stdin: bool, prompt: str) -> str:
    """The password from an option, one line of stdin, or a prompt typed twice, unechoed."""
    if given is not None and from_stdin:
        refuse("give the password either as an option or with --password-stdin, not both")
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            refuse("--password-stdin: no password on the first line of standard input")
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
        refuse(f"invalid password: {exc.errors()[0]['msg']}")


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(rounds=settings.bcrypt_rounds)


def _username_from_email(email: str) -> str:
    local = re.sub(r"[^a-z0-9_.-]", "-", email.strip().lower().partition("@")[0]).lstrip(".-")
    return local[:USERNAME_MAX_LENGTH] or "owner"


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="The blog's URL name: a-z, 0-9, inner hyphens.")],
    name: Annotated[str, typer.Option("--name", help="The blog's display name.")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="The first owner's email.")],
    owner_username: Annotated[
        str | None,
        typer.Option(help="The owner's username (default: from the email).", show_default=False),
    ] = None,
    owner_password: Annotated[
        str | None,
        typer.Option(
            help="The owner's password. Visible to other local users in the process list: "
            "prefer the prompt or --password-stdin.",
            show_default=False,
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a blog and its first owner (asks for the password unless given).

    Example: blog tenants create acme --name "Acme" --owner-email me@acme.example
    """
    settings = load_settings(database_url)
    password = read_password(
        given=owner_password, from_stdin=password_stdin, prompt="Owner password"
    )
    with clean_errors():
        data = TenantCreate.model_validate(
            {
                "slug": slug,
                "name": name,
                "owner": {
                    "email": owner_email,
                    "username": owner_username or _username_from_email(owner_email),
                    "password": password,
                },
            }
        )
    with clean_errors(), database(settings.database_url) as engine, new_session(engine) as session:
        tenant, owner = tenants_service.create_tenant(
            session, hasher=password_hasher(settings), data=data
        )
        session.commit()
    console.print(
        f"Created the blog [bold]{tenant.slug}[/bold] ({escape(tenant.name)}) with the owner "
        f"[bold]{escape(owner.email)}[/bold] (username [bold]{owner.username}[/bold])."
    )


@app.command("list")
def list_(database_url: DatabaseUrl = None) -> None:
    """List every blog with its numbers of users and posts.

    Example: blog tenants list
    """
    settings = load_settings(database_url)
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        platform_session(engine, "listing every blog") as session,
    ):
        rows = tenants_service.list_with_counts(session)
    if not rows:
        console.print("No blogs yet. Create one with: blog tenants create")
        return
    table = Table("slug", "name", "created", "users", "posts")
    for tenant, users, posts in rows:
        table.add_row(
            tenant.slug,
            escape(tenant.name),
            f"{tenant.created_at:%Y-%m-%d %H:%M}",
            str(users),
            str(posts),
        )
    console.print(table)


@app.command("show")
def show(
    slug: Annotated[str, typer.Argument(help="The blog's slug.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Show one blog and how many users, posts, comments and tags it has.

    Example: blog tenants show acme
    """
    settings = load_settings(database_url)
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        tenant_session(engine, slug) as (session, tenant),
    ):
        counts = tenants_service.row_counts(session)
    table = Table(show_header=False, box=None)
    table.add_row("slug", tenant.slug)
    table.add_row("name", escape(tenant.name))
    table.add_row("id", str(tenant.id))
    table.add_row("created", tenant.created_at.isoformat(timespec="seconds"))
    table.add_row("registration", "open" if tenant.registration_open else "closed")
    for label in ("users", "posts", "comments", "tags"):
        table.add_row(label, str(counts[label]))
    console.print(table)


@app.command("delete")
def delete(
    slug: Annotated[str, typer.Argument(help="The blog's slug.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Really delete: without it nothing is removed.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a blog with all its users, posts, tags, comments and logins. No undo.

    Without --yes, shows what would be removed and exits 1. Other blogs are untouched.

    Example: blog tenants delete acme --yes
    """
    settings = load_settings(database_url)
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        tenant_session(engine, slug) as (session, tenant),
    ):
        if not yes:
            counts = tenants_service.row_counts(session)
            err_console.print(_removal_table(f"Would remove from {tenant.slug}", counts))
            refuse(f"refusing to delete the blog {tenant.slug!r} without --yes")
        removed = tenants_service.delete_tenant(session, tenant=tenant)
        session.commit()
    console.print(_removal_table(f"Deleted the blog {slug}; rows removed", removed))


def _removal_table(title: str, counts: dict[str, int]) -> Table:
    table = Table("table", "rows", title=title)
    for name, count in counts.items():
        table.add_row(name, str(count))
    return table
