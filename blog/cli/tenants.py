"""``blog tenants``: create, list, show and delete blogs, as the platform's operator."""

import re
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

import blog.models  # noqa: F401 - every table is mapped before tenancy lists them
from blog.cli.common import (
    DatabaseUrl,
    PasswordStdin,
    clean_errors,
    console,
    database,
    err_console,
    fail,
    load_settings,
    password_hasher,
    platform_session,
    read_password,
    tenant_command,
)
from blog.database import new_session, unit_of_work
from blog.media import service as media_service
from blog.media.storage import storage_from_settings
from blog.tenants import service as tenants_service
from blog.tenants.schemas import TenantCreate
from blog.users.models import USERNAME_MAX_LENGTH

app = typer.Typer(
    help="Create, list, show and delete blogs. Example: blog tenants list",
    no_args_is_help=True,
)


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
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        unit_of_work(new_session(engine)) as session,
    ):
        tenant, owner = tenants_service.create_tenant(
            session, hasher=password_hasher(settings), data=data
        )
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
    with tenant_command(settings, slug) as (session, tenant):
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
    """Delete a blog with all its users, posts, tags, comments, logins and media files. No undo.

    Without --yes, shows what would be removed and exits 1. Other blogs are untouched.

    Example: blog tenants delete acme --yes
    """
    settings = load_settings(database_url)
    with tenant_command(settings, slug) as (session, tenant):
        if not yes:
            counts = tenants_service.row_counts(session)
            err_console.print(_removal_table(f"Would remove from {tenant.slug}", counts))
            fail(f"refusing to delete the blog {tenant.slug!r} without --yes")
        files = media_service.all_keys(session)
        removed = tenants_service.delete_tenant(session, tenant=tenant)
    # Once the rows are gone for good: a failed deletion keeps the files its rows name.
    media_service.delete_files(storage_from_settings(settings), files)
    console.print(_removal_table(f"Deleted the blog {slug}; rows removed", removed))
    if files:
        console.print(f"{len(files)} media file(s) removed from the media storage.")


def _removal_table(title: str, counts: dict[str, int]) -> Table:
    table = Table("table", "rows", title=title)
    for name, count in counts.items():
        table.add_row(name, str(count))
    return table
