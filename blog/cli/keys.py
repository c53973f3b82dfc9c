"""``blog keys``: make, list and revoke a blog's API keys as the platform's operator.

The same service functions as ``/api/v1/tenants/{tenant}/keys``. An admin key acts as a
member (``--as``), who must be an active admin or owner of the blog, as over the API.
"""

from typing import Annotated

import typer
from rich.markup import escape

from blog.cli.common import DatabaseUrl, clean_errors, console, load_settings, tenant_command
from blog.cli.users import TenantSlug, _find
from blog.keys import service as keys_service
from blog.keys.models import ApiKey, KeyKind, Scope
from blog.keys.schemas import ApiKeyCreate

app = typer.Typer(
    help="Manage a blog's API keys. Example: blog keys create --tenant acme --kind content "
    "--name site",
    no_args_is_help=True,
)


def _describe(key: ApiKey) -> str:
    scopes = f" scopes={','.join(key.scopes)}" if key.scopes else ""
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
    used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
    return (
        f"{key.id}  {key.kind:<7}  {key.prefix}  {escape(key.name)}{scopes}  "
        f"created {key.created_at:%Y-%m-%d %H:%M}  used {used}  {state}"
    )


@app.command("create")
def create(
    tenant_slug: TenantSlug,
    kind: Annotated[KeyKind, typer.Option("--kind", help="content or admin.")],
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    scopes: Annotated[
        list[Scope] | None,
        typer.Option("--scope", help="An admin key's scope (repeat for several)."),
    ] = None,
    as_login: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Admin keys: the admin or owner (email or username) the key acts as.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a key and print it once (only its hash is stored).

    Example: blog keys create --tenant acme --kind admin --name deploy --scope posts:write
    --as ann
    """
    settings = load_settings(database_url)
    with clean_errors():
        data = ApiKeyCreate(kind=kind, name=name, scopes=scopes or [])
    with tenant_command(settings, tenant_slug) as (session, tenant):
        creator = _find(session, tenant, as_login) if as_login is not None else None
        key, text = keys_service.create_key(session, tenant=tenant, creator=creator, data=data)
    console.print(_describe(key), highlight=False)
    console.print("The key (shown this once; send it as the X-API-Key header):")
    typer.echo(text)


@app.command("list")
def list_keys(tenant_slug: TenantSlug, database_url: DatabaseUrl = None) -> None:
    """List a blog's keys, revoked ones too (never their secrets).

    Example: blog keys list --tenant acme
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        keys = session.exec(keys_service.keys_query()).all()
    if not keys:
        console.print(f"The blog {tenant.slug} has no API keys.")
    for key in keys:
        console.print(_describe(key), highlight=False)


@app.command("revoke")
def revoke(
    tenant_slug: TenantSlug,
    key_id_or_prefix: Annotated[
        str, typer.Argument(metavar="KEY_ID_OR_PREFIX", help="The key's id or prefix.")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: its next call is refused.

    Example: blog keys revoke --tenant acme Xy3_aB9kLm0Q
    """
    settings = load_settings(database_url)
    with tenant_command(settings, tenant_slug) as (session, tenant):
        key = keys_service.find_key(session, key_id_or_prefix=key_id_or_prefix)
        was_revoked = key.revoked_at is not None
        keys_service.revoke_key(session, key=key)
    if was_revoked:
        console.print(f"The key {key.prefix} of the blog {tenant.slug} was already revoked.")
    else:
        console.print(f"Revoked the key {key.prefix} of the blog {tenant.slug}.")
