"""``blog users``: manage one blog's accounts as the platform's operator.

The operator is not a member of the blog, so the role rules of the API (admins manage
up to admin, only owners manage owners) do not apply; the one rule that does is that a
blog keeps at least one active owner.
"""

from typing import Annotated

import typer
from rich.markup import escape
from sqlmodel import Session

from blog.app import build_auth_config
from blog.auth import service as auth_service
from blog.cli.common import (
    DatabaseUrl,
    PasswordStdin,
    check_password,
    clean_errors,
    console,
    fail,
    load_settings,
    password_hasher,
    read_password,
    tenant_command,
)
from blog.tenants.models import Tenant
from blog.users import service as users_service
from blog.users.models import Role, User
from blog.users.schemas import UserAdminUpdate, UserCreate

app = typer.Typer(
    help="Manage a blog's accounts. Example: blog users set-role --tenant acme ann editor",
    no_args_is_help=True,
)

TenantSlug = Annotated[str, typer.Option("--tenant", help="The blog's slug.", show_default=False)]
Login = Annotated[str, typer.Argument(metavar="USER", help="The account's email or username.")]


def _find(session: Session, tenant: Tenant, login: str) -> User:
    user = users_service.find_by_login(session, login=login)
    if user is None:
        fail(f"no user {login!r} in the blog {tenant.slug!r}")
    return user


@app.command("create")
def create(
    tenant_slug: TenantSlug,
    email: Annotated[str, typer.Option("--email", help="Email (stored lower-cased).")],
    username: Annotated[str, typer.Option("--username", help="Username, unique in the blog.")],
    role: Annotated[Role, typer.Option("--role", help="The account's role.")] = Role.author,
    password: Annotated[
        str | None,
        typer.Option(
            help="The password. Visible to other local users in the process list: "
            "prefer the prompt or --password-stdin.",
            show_default=False,
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add an account to a blog (asks for the password unless given).

    Example: blog users create --tenant acme --email ann@acme.example --username ann --role editor
    """
    settings = load_settings(database_url)
    with clean_errors():
        data = UserCreate(
            email=email,
            username=username,
            password=read_password(given=password, from_stdin=password_stdin, prompt="Password"),
        )
    with tenant_command(settings, tenant_slug) as (session, tenant):
        user = users_service.create_user(
            session, tenant=tenant, hasher=password_hasher(settings), data=data, role=role
        )
    console.print(
        f"Created [bold]{user.username}[/bold] <{escape(user.email)}> as {user.role} "
        f"in the blog [bold]{tenant.slug}[/bold] (id {user.id})."
    )


@app.command("set-role")
def set_role(
    tenant_slug: TenantSlug,
    login: Login,
    role: Annotated[Role, typer.Argument(help="The new role.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Change an account's role (the last active owner cannot be demoted).

    Example: blog users set-role --tenant acme ann@acme.example editor
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        user = _find(session, tenant, login)
        previous = user.role
        if role != previous:
            users_service.update_account(session, target=user, data=UserAdminUpdate(role=role))
    if previous == role:
        console.print(f"{user.username} already is {role} in the blog {tenant.slug}.")
    else:
        console.print(f"{user.username} is now {role} in the blog {tenant.slug} (was {previous}).")


@app.command("deactivate")
def deactivate(
    tenant_slug: TenantSlug,
    login: Login,
    database_url: DatabaseUrl = None,
) -> None:
    """Deactivate an account and end all its logins (the last active owner cannot be).

    The same rule as an admin's PATCH /users/{id} with is_active false.

    Example: blog users deactivate --tenant acme ann
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        user = _find(session, tenant, login)
        users_service.update_account(session, target=user, data=UserAdminUpdate(is_active=False))
    console.print(f"Deactivated {user.username} in the blog {tenant.slug}; their logins are ended.")


@app.command("unlock")
def unlock(
    tenant_slug: TenantSlug,
    login: Login,
    database_url: DatabaseUrl = None,
) -> None:
    """Lift the lockout that wrong passwords put on an account.

    Example: blog users unlock --tenant acme ann
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        user = _find(session, tenant, login)
        was_locked = user.locked_until is not None
        users_service.lift_lockout(session, target=user)
    if was_locked:
        console.print(f"Unlocked {user.username} in the blog {tenant.slug}.")
    else:
        console.print(f"{user.username} was not locked in the blog {tenant.slug}; counts reset.")


@app.command("reset-password")
def reset_password(
    tenant_slug: TenantSlug,
    login: Login,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a new password (asked twice, unechoed) and end all the account's logins.

    Example: blog users reset-password --tenant acme ann@acme.example

    In a script: printf '%s\n' "$PASSWORD" | blog users reset-password --tenant acme ann
    --password-stdin
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        _find(session, tenant, login)  # a wrong name fails before anyone types a password
    # No transaction is held open while a person types.
    password = check_password(
        read_password(given=None, from_stdin=password_stdin, prompt="New password")
    )
    with tenant_command(settings, tenant_slug) as (session, tenant):
        user = _find(session, tenant, login)
        auth_service.replace_password(
            session, auth=build_auth_config(settings), user=user, password=password
        )
    console.print(f"New password set for {user.username}; their logins are ended.")
