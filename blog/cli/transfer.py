"""``blog export`` and ``blog import``: move one blog to another deployment or database.

The file, what it holds and how it is read are the tenants domain's
(:mod:`blog.tenants.transfer`); this is the command line around them: arguments, the
snapshot an export reads from, and what the operator is told.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from blog.cli.common import (
    DatabaseUrl,
    clean_errors,
    console,
    database,
    err_console,
    fail,
    load_settings,
    tenant_command,
)
from blog.database import new_session, unit_of_work
from blog.media.storage import storage_from_settings
from blog.media.transfer import attach_files, store_files
from blog.tenants.transfer import export_tenant, import_tenant, parse_export


def export(
    slug: Annotated[str, typer.Argument(help="The blog's slug.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Write the JSON here instead of to standard output.",
            show_default=False,
        ),
    ] = None,
    include_secrets: Annotated[
        bool,
        typer.Option(
            "--include-secrets",
            help="Also write secret columns (an import without them makes new ones).",
        ),
    ] = False,
    with_media: Annotated[
        bool,
        typer.Option(
            "--with-media",
            help="Also write the media files (base64) from the media storage; without it, "
            "only their metadata.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Export one blog with all its data as JSON (logins and mailed links excluded).

    The file holds password hashes: keep it as private as the database. Secrets are
    left out unless --include-secrets is given, media files unless --with-media is.

    Example: blog export acme --output acme.json
    """
    settings = load_settings(database_url)
    with tenant_command(settings, slug) as (session, tenant):
        if session.get_bind().dialect.name == "postgresql":
            # Every table from one snapshot, so a blog in use exports consistently: end the
            # transaction of the blog's lookup (it wrote nothing), start a repeatable one.
            session.rollback()
            session.connection(  # raw-sql: only sets the isolation level; the ORM reads
                execution_options={"isolation_level": "REPEATABLE READ"}
            )
        data = export_tenant(session, tenant=tenant, include_secrets=include_secrets)
        missing = attach_files(session, data, storage_from_settings(settings)) if with_media else 0
    # Without --with-media the file has no "media_files": an import then knows it holds none.
    leave_out = None if with_media else {"media_files"}
    text = data.model_dump_json(indent=2, exclude=leave_out) + "\n"
    message = f"Exported the blog [bold]{tenant.slug}[/bold]: {data.summary()}."
    if with_media:
        message += f" With {len(data.media_files or [])} media file(s)."
    if missing:
        message += f" {missing} media file(s) were missing from the storage."
    if include_secrets:
        message += " The file holds its secrets too: keep it as private as the database."
    if output is None:
        sys.stdout.write(text)
        err_console.print(message)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    console.print(message)


def import_(
    file: Annotated[
        Path,
        typer.Argument(help="A file made by 'blog export' ('-' reads standard input)."),
    ],
    new_slug: Annotated[
        str | None,
        typer.Option(
            "--as", help="Import under this slug instead of the exported one.", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a blog exported by 'blog export', all or nothing, keeping its ids.

    Refuses a slug that exists here (choose another with --as). Users keep their
    passwords but must log in again.

    Example: blog import acme.json --as acme-copy
    """
    settings = load_settings(database_url)
    with clean_errors():
        try:
            text = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
        data = parse_export(text)
    with (
        clean_errors(),
        database(settings.database_url) as engine,
        unit_of_work(new_session(engine)) as session,
    ):
        tenant = import_tenant(session, data=data, slug=new_slug or data.tenant_slug)
        # Before the commit: a storage failure leaves no blog behind.
        stored = store_files(data, storage_from_settings(settings), tenant_id=tenant.id)
    console.print(f"Imported the blog [bold]{tenant.slug}[/bold]: {data.summary()}.")
    if stored.written:
        console.print(f"{stored.written} media file(s) written to the media storage.")
    if stored.missing:
        console.print(
            f"{stored.missing} media file(s) were in neither the file nor the storage: "
            "export with --with-media to move them."
        )
    if tenant.id != data.tenant_id:
        console.print(
            f"Its id {data.tenant_id} is taken here, so the blog got a new one: {tenant.id}."
        )
    if scheduled := data.scheduled_posts():
        console.print(
            f"{scheduled} scheduled post(s) will be published at their time by 'blog worker'."
        )
    if made := data.secrets_made_on_import():
        console.print(f"The file holds no secrets: new ones were made for {', '.join(made)}.")
    console.print("Refresh tokens are not exported: users log in again.")
