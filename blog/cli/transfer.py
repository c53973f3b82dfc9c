"""``blog export`` and ``blog import``: move one blog to another deployment or database.

The file is JSON::

    {"format": "blog-tenant-export", "version": 2, "exported_at": "…Z",
     "tenant": {...}, "users": [...], "tags": [...], "posts": [...],
     "post_tags": [...], "comments": [...], "follows": [...], "favorites": [...]}

Rows carry every column except ``tenant_id`` (implied by the file); ids are UUID
strings, times ISO 8601 with a time zone. Users keep their password hashes, so they
log in as before. Logins (sessions and refresh tokens) and mailed links are not
exported: every login must be made again, and links sent before the move stop working.

Ids: every row keeps its id. The keys of tenant-owned rows include the tenant's id,
so they cannot collide with another blog's rows. The blog's own id is kept too,
unless the target already has a blog with that id (a copy imported next to its
original with ``--as``): the copy then gets a new id, and the import says so.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
import typer
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from sqlmodel import Session, col, select

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
from blog.database import new_session, unit_of_work, utcnow, uuid7
from blog.errors import InvalidInput
from blog.models import metadata
from blog.posts.models import Comment, Favorite, Post, PostStatus, PostTag, Tag
from blog.tenancy import TenantScoped, bind_tenant
from blog.tenants.exceptions import TenantSlugTaken
from blog.tenants.models import DEFAULT_LOCKOUT_THRESHOLD, Tenant
from blog.tenants.schemas import TenantSlug
from blog.users.models import Follow, Role, User

FORMAT = "blog-tenant-export"
VERSION = 3  # 2: comments carry their per-post number; 3: account settings, verification
READABLE_VERSIONS = (2, 3)
INSERT_BATCH = 1000


class InvalidExport(InvalidInput):
    code = "invalid_export"
    detail = "Not a blog export file."


class _Row(BaseModel):
    """One row as exported: every column but ``tenant_id``, checked strictly on import."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TenantRow(_Row):
    id: UUID
    slug: str
    name: str
    registration_open: bool
    created_at: AwareDatetime
    # Version 3; a version 2 file gets the defaults.
    require_verified_email: bool = False
    lockout_threshold: int = DEFAULT_LOCKOUT_THRESHOLD
    frontend_url: str | None = None


class UserRow(_Row):
    id: UUID
    email: str
    username: str
    username_key: str
    name: str | None
    bio: str | None
    image: str | None
    role: Role
    is_active: bool
    hashed_password: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    # Version 3; a version 2 file's members are unverified. Lockouts and token
    # generations are not exported: they belong to this deployment's logins.
    email_verified_at: AwareDatetime | None = None


class TagRow(_Row):
    id: UUID
    name: str


class PostRow(_Row):
    id: UUID
    author_id: UUID | None
    title: str
    slug: str
    description: str
    body: str
    status: PostStatus
    published_at: AwareDatetime | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    last_comment_number: int

    @model_validator(mode="after")
    def _date_published(self) -> "PostRow":
        """A published post is listed by its publication time: an undated one gets its
        creation time (lists and cursors need every published post dated)."""
        if self.status == PostStatus.published and self.published_at is None:
            return self.model_copy(update={"published_at": self.created_at})
        return self


class PostTagRow(_Row):
    post_id: UUID
    tag_id: UUID
    position: int


class CommentRow(_Row):
    id: UUID
    post_id: UUID
    number: int
    author_id: UUID
    body: str
    created_at: AwareDatetime
    updated_at: AwareDatetime


class FollowRow(_Row):
    follower_id: UUID
    followed_id: UUID
    created_at: AwareDatetime


class FavoriteRow(_Row):
    user_id: UUID
    post_id: UUID
    created_at: AwareDatetime


class TenantExport(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["blog-tenant-export"]
    version: Literal[2, 3]
    exported_at: AwareDatetime
    tenant: TenantRow
    users: list[UserRow]
    tags: list[TagRow]
    posts: list[PostRow]
    post_tags: list[PostTagRow]
    comments: list[CommentRow]
    follows: list[FollowRow]
    favorites: list[FavoriteRow]


# The exported tables in foreign-key order (the order of inserting), with their row shapes.
TABLES: tuple[tuple[str, type[TenantScoped], type[_Row]], ...] = (
    ("users", User, UserRow),
    ("tags", Tag, TagRow),
    ("posts", Post, PostRow),
    ("post_tags", PostTag, PostTagRow),
    ("comments", Comment, CommentRow),
    ("follows", Follow, FollowRow),
    ("favorites", Favorite, FavoriteRow),
)

_SLUG = TypeAdapter(TenantSlug)


def export_tenant(session: Session, *, tenant: Tenant) -> TenantExport:
    """Everything of ``tenant`` but refresh tokens; the session must be bound to it."""
    tables: dict[str, list[_Row]] = {}
    for name, model, row_model in TABLES:
        columns = [getattr(model, field) for field in row_model.model_fields]
        query = sa.select(*columns).order_by(*sa.inspect(model).primary_key)
        tables[name] = [
            row_model.model_validate(dict(row._mapping)) for row in session.execute(query)
        ]
    return TenantExport.model_validate(
        {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow(),
            "tenant": TenantRow.model_validate(tenant, from_attributes=True),
            **tables,
        }
    )


def parse_export(text: str | bytes) -> TenantExport:
    """Read an export file; a file of another format or version is refused by name."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidExport(f"not a JSON file: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InvalidExport(f'not a blog export (it needs "format": "{FORMAT}")')
    if raw.get("version") not in READABLE_VERSIONS:
        raise InvalidExport(
            f"export format version {raw.get('version')!r} is not supported "
            f"(this version of blog reads versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    return TenantExport.model_validate_json(text)


def import_tenant(session: Session, *, data: TenantExport, slug: str) -> Tenant:
    """Create the blog ``slug`` with every row of ``data``, keeping ids (see the module).

    Core inserts in batches, in foreign-key order, in the session's transaction: the
    caller commits all or nothing. The session ends bound to the new blog.
    """
    try:
        slug = _SLUG.validate_python(slug)
    except ValidationError as exc:
        raise InvalidInput(f"invalid slug {slug!r}: {exc.errors()[0]['msg']}") from exc
    if session.exec(select(Tenant.id).where(col(Tenant.slug) == slug)).first() is not None:
        raise TenantSlugTaken(
            f"A blog with the slug {slug!r} already exists here; "
            "import under another slug with --as NEW_SLUG."
        )
    id_taken = session.get(Tenant, data.tenant.id) is not None
    tenant = Tenant.model_validate(
        {**data.tenant.model_dump(), "slug": slug, "id": uuid7() if id_taken else data.tenant.id}
    )
    session.add(tenant)
    session.flush()
    bind_tenant(session, tenant.id)
    for name, _model, _row_model in TABLES:
        rows: list[_Row] = getattr(data, name)
        for start in range(0, len(rows), INSERT_BATCH):
            session.execute(
                sa.insert(metadata.tables[name]),
                [
                    {"tenant_id": tenant.id, **row.model_dump()}
                    for row in rows[start : start + INSERT_BATCH]
                ],
            )
    session.flush()
    return tenant


def _summary(data: TenantExport) -> str:
    return ", ".join(f"{len(getattr(data, name))} {name}" for name, _, _ in TABLES)


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
    database_url: DatabaseUrl = None,
) -> None:
    """Export one blog with all its data as JSON (refresh tokens excluded).

    The file holds password hashes: keep it as private as the database.

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
        data = export_tenant(session, tenant=tenant)
    text = data.model_dump_json(indent=2) + "\n"
    message = f"Exported the blog [bold]{tenant.slug}[/bold]: {_summary(data)}."
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
        tenant = import_tenant(session, data=data, slug=new_slug or data.tenant.slug)
    console.print(f"Imported the blog [bold]{tenant.slug}[/bold]: {_summary(data)}.")
    if tenant.id != data.tenant.id:
        console.print(
            f"Its id {data.tenant.id} is taken here, so the blog got a new one: {tenant.id}."
        )
    console.print("Refresh tokens are not exported: users log in again.")
