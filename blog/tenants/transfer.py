"""Moving one blog to another deployment or database: its export file, written and read.

The file is JSON::

    {"format": "blog-tenant-export", "version": 7, "exported_at": "…Z", "secrets": false,
     "tenant": {...}, "users": [...], "tags": [...], "posts": [...],
     "post_tags": [...], "comments": [...], "follows": [...], "favorites": [...],
     "webhook_endpoints": [...], "post_revisions": [...], "post_autosaves": [...],
     "media": [...], "media_files": [...]}

What moves is declared, not written out: :data:`TABLES` has one :class:`Exported` per
tenant-owned table that goes with a blog, naming its model and the columns left out; a
row carries every other column of the model's table but ``tenant_id`` (implied by the
file). :data:`NOT_EXPORTED` says why each other tenant-owned table stays behind. Ids are
UUID strings, times ISO 8601 with a time zone. A file is untrusted input: every row is
checked strictly against its columns' types and lengths, and a bad file is refused whole.

Users keep their password hashes, so they log in as before. Logins (sessions and refresh
tokens) and mailed links are not exported: every login must be made again, and links sent
before the move stop working. Secret columns (:attr:`Exported.secret`) are in the file only
when asked for (``"secrets": true``); otherwise the import makes each row a fresh one.
Scheduled posts move as they are, and the import schedules their publication again.
What is derived is not exported but made again: a post's ``search_tags`` (its tag names,
for search) from its tag links, after which the database's triggers index the posts.

Media move as rows (their metadata and storage keys); their files only when asked for
(``blog export --with-media``: ``media_files``, each file's key, type and base64 bytes,
see :mod:`blog.media.transfer`). A key names its blog's id
(``{tenant_id}/{sha256}/{variant}.{ext}``): a blog imported under a new id gets its keys
renamed to match.

Ids: every row keeps its id. The keys of tenant-owned rows include the tenant's id,
so they cannot collide with another blog's rows. The blog's own id is kept too,
unless the target already has a blog with that id (a copy imported next to its
original with ``--as``): the copy then gets a new id.
"""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, reduce
from operator import or_
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import sqlalchemy as sa
from annotated_types import BaseMetadata
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from sqlmodel import Session, SQLModel, col, select

from blog.bulk import columns_of, table_of
from blog.database import utcnow, uuid7
from blog.errors import InvalidInput
from blog.media.models import Media
from blog.media.storage import check_key, rekey
from blog.posts.models import Comment, Favorite, Post, PostStatus, PostTag, Tag
from blog.posts.publishing import schedule_publication
from blog.posts.search import SearchLanguage
from blog.revisions.models import PostAutosave, PostRevision
from blog.tenancy import bind_tenant, bound_tenant
from blog.tenants.exceptions import InvalidExport, TenantSlugTaken
from blog.tenants.models import Tenant
from blog.tenants.schemas import TenantSlug
from blog.users.models import Follow, User
from blog.webhooks.models import WebhookEndpoint

FORMAT = "blog-tenant-export"
# 2: comments carry their per-post number; 3: account settings, verification;
# 4: "secrets" says whether secret columns are in the file; webhook endpoints;
# 5: the blog's search language; 6: post revisions and autosaves; 7: media (and their
# files, when asked for).
VERSION = 7
READABLE_VERSIONS = (2, 3, 4, 5, 6, 7)
FIRST_VERSION = READABLE_VERSIONS[0]
INSERT_BATCH = 1000


class Row(BaseModel):
    """One row as exported: its table's columns but ``tenant_id``, checked strictly on
    import. Each exported table has its subclass, made from the model."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


RowCheck = Callable[[Any], Any]
AfterImport = Callable[[Session, Sequence[Any]], None]


@dataclass(frozen=True, eq=False)
class Exported:
    """A table that moves with a blog: every column of ``model`` but ``tenant_id`` and
    ``left_out``.

    * ``secret``: columns written only when asked for (``include_secrets``); an import
      without them gives every row a fresh value, from ``fresh[column]`` or else the
      model's default factory.
    * ``since``: the first file version that carries the table (older files: no rows).
    * ``columns_since``: columns added to the file later, with the version that added
      them (an older file's rows get the model's default).
    * ``check``: a check of each imported row beyond its columns' types; gets the row,
      returns it (or an amended copy), raises ``ValueError`` to refuse it.
    * ``after_import``: runs in the importing transaction once the table's rows are in,
      with them (a blog's rows only: the session is bound to it).
    """

    model: type[SQLModel]
    left_out: AbstractSet[str] = frozenset()
    secret: AbstractSet[str] = frozenset()
    fresh: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    since: int = FIRST_VERSION
    columns_since: Mapping[str, int] = field(default_factory=dict)
    check: RowCheck | None = None
    after_import: AfterImport | None = None

    def __post_init__(self) -> None:
        columns = set(self.columns)
        named = {"secret": set(self.secret), "columns_since": set(self.columns_since)}
        for option, names in named.items():
            if names - columns:
                raise ValueError(
                    f"{self.name}: {option} names {', '.join(sorted(names - columns))}, "
                    "not an exported column"
                )
        for name in self.secret:
            self.generator(name)
        for name in self.columns_since:
            if self.model.model_fields[name].is_required():
                raise ValueError(
                    f"{self.name}.{name} came later: older files need a default on the model"
                )

    @property
    def name(self) -> str:
        """The table's name, which is the file's key for its rows."""
        return table_of(self.model).name

    @property
    def columns(self) -> tuple[str, ...]:
        """The exported columns, in the table's order (secret ones included)."""
        columns = columns_of(self.model, leaving_out=self.left_out)
        return tuple(name for name in columns if name != "tenant_id")

    def generator(self, column: str) -> Callable[[], Any]:
        """What makes a fresh value of a secret ``column`` for an import without it."""
        made = self.fresh.get(column) or self.model.model_fields[column].default_factory
        if made is None:
            raise ValueError(
                f"{self.name}.{column} is secret: give fresh={{{column!r}: ...}} "
                "or a default factory on the model"
            )
        return made  # type: ignore[return-value]  # our models' factories take no data

    def row_model(self, *, version: int = VERSION, secrets: bool = False) -> type[Row]:
        """The shape of this table's rows in a file of ``version``, with or without its
        secret columns."""
        return _row_model(self, version, secrets)


def _date_published(post: Any) -> Any:
    """A published post is listed by its publication time: an undated one gets its
    creation time (lists and cursors need every published post dated). A scheduled post
    needs its time."""
    if post.status == PostStatus.scheduled and post.published_at is None:
        raise ValueError("a scheduled post needs its published_at")
    if post.status == PostStatus.published and post.published_at is None:
        return post.model_copy(update={"published_at": post.created_at})
    return post


def _schedule_publications(session: Session, posts: Sequence[Any]) -> None:
    """A scheduled post still publishes on time: its job is written as when it was
    scheduled (jobs themselves do not move)."""
    if any(post.status == PostStatus.scheduled for post in posts):
        scheduled = select(Post).where(col(Post.status) == PostStatus.scheduled)
        for post in session.exec(scheduled):
            schedule_publication(session, post)


def _index_tags(session: Session, _links: Sequence[Any]) -> None:
    """Each tagged post's ``search_tags``: its tag names in position order, as the service
    writes them with the links (the search index's triggers take them from there)."""
    links = (
        sa.select()
        .select_from(PostTag)
        .join(
            Tag,
            (col(Tag.tenant_id) == col(PostTag.tenant_id)) & (col(Tag.id) == col(PostTag.tag_id)),
        )
        .where(col(PostTag.tenant_id) == col(Post.tenant_id), col(PostTag.post_id) == col(Post.id))
        .correlate(Post)
    )
    if session.get_bind().dialect.name == "postgresql":
        name = sa.func.string_agg(col(Tag.name), sa.literal(" "))
        names = links.add_columns(sa.aggregate_order_by(name, col(PostTag.position)))
    else:
        # No ORDER BY in SQLite's aggregates before 3.44: group_concat keeps the order of
        # the rows it is given.
        ordered = links.add_columns(col(Tag.name)).order_by(col(PostTag.position)).subquery()
        names = sa.select(sa.func.group_concat(ordered.c.name, sa.literal(" ")))
    tagged = col(Post.id).in_(sa.select(col(PostTag.post_id)))
    update = sa.update(Post).where(tagged).values(search_tags=names.scalar_subquery())
    # Nothing reads search_tags from the session's objects afterwards: no RETURNING of
    # every post's key to refresh them.
    session.execute(update.execution_options(synchronize_session=False))


def _rekey_media(session: Session, media: Sequence[Any]) -> None:
    """Media of a blog imported under a new id: their keys name the new id (the files
    are put there: :func:`blog.media.transfer.store_files`)."""
    tenant_id = bound_tenant(session)
    assert tenant_id is not None  # noqa: S101 - import_tenant binds the blog first
    for row in media:
        files = [{**file, "key": rekey(file["key"], tenant_id)} for file in row.files]
        if files != row.files:
            session.execute(
                sa.update(Media).where(col(Media.id) == row.id).values(files=files),
                execution_options={"synchronize_session": False},
            )


_MEDIA_FILE_FIELDS = {"name", "key", "content_type", "width", "height", "bytes"}


def _plain_media_files(media: Any) -> Any:
    """A media's files are what uploads write: each its fields, its key plain segments
    (:func:`blog.media.storage.check_key`: no path out of the storage's root)."""
    for file in media.files:
        if not isinstance(file, dict) or set(file) != _MEDIA_FILE_FIELDS:
            raise ValueError(f"each file has exactly {', '.join(sorted(_MEDIA_FILE_FIELDS))}")
        if not isinstance(file["key"], str):
            raise ValueError("a file's key is text")
        check_key(file["key"])  # an InvalidStorageKey is a ValueError
    return media


def _known_language(tenant: Any) -> Any:
    """A blog's search language is one PostgreSQL indexes with (:class:`SearchLanguage`)."""
    if tenant.search_language not in set(SearchLanguage):
        raise ValueError(f"unknown search language {tenant.search_language!r}")
    return tenant


# The blog itself (the file's "tenant"): not tenant-owned, it is what the rest belongs to.
TENANT = Exported(
    Tenant,
    columns_since={
        "require_verified_email": 3,
        "lockout_threshold": 3,
        "frontend_url": 3,
        "search_language": 5,
    },
    check=_known_language,
)

# The tenant-owned tables that move with a blog, in foreign-key order (the order of
# inserting).
TABLES: tuple[Exported, ...] = (
    # Lockouts and token generations belong to this deployment's logins.
    Exported(
        User,
        left_out={"failed_logins", "locked_until", "token_generation"},
        columns_since={"email_verified_at": 3},
    ),
    Exported(Tag),
    # search_tags is derived from the tag links, and made again from them.
    Exported(
        Post,
        left_out={"search_tags"},
        check=_date_published,
        after_import=_schedule_publications,
    ),
    Exported(PostTag, after_import=_index_tags),
    Exported(Comment),
    Exported(Follow),
    Exported(Favorite),
    # A signing secret moves only with --include-secrets (else the import makes a new one,
    # which an admin reads by rotating); a rotation's overlap stays behind.
    Exported(
        WebhookEndpoint,
        secret={"secret"},
        left_out={"previous_secret", "previous_secret_expires_at"},
        since=4,
    ),
    # A post's history moves with it; so do its writers' unsaved working copies (a move
    # should not lose a draft in progress).
    Exported(PostRevision, since=6),
    Exported(PostAutosave, since=6),
    Exported(Media, since=7, check=_plain_media_files, after_import=_rekey_media),
)

# The tenant-owned tables that stay behind, and why.
NOT_EXPORTED: Mapping[str, str] = {
    "auth_sessions": "logins: credentials of this deployment (users log in again)",
    "refresh_tokens": "logins: credentials of this deployment (users log in again)",
    "account_tokens": "mailed links: credentials of this deployment",
    "api_keys": "API keys: credentials of this deployment (made again after a move)",
    "jobs": "this deployment's work in flight (an import schedules its posts again)",
    "tenant_versions": "the response cache's version of the blog (an import starts one)",
    "webhook_deliveries": "the delivery log: this deployment's work in flight and its history",
}


def _checked(annotation: Any) -> Any:
    """A model field's type as an import checks it: a time must carry its zone."""
    if annotation is datetime:
        return AwareDatetime
    if isinstance(annotation, UnionType) or get_origin(annotation) is Union:
        return reduce(or_, (_checked(arg) for arg in get_args(annotation)))
    return annotation


@cache
def _row_model(table: Exported, version: int, secrets: bool) -> type[Row]:
    fields: dict[str, Any] = {}
    for name in table.columns:
        if name in table.secret and not secrets:
            continue
        info = table.model.model_fields[name]
        constraints = [item for item in info.metadata if isinstance(item, BaseMetadata)]
        checked = _checked(info.annotation)
        annotation = Annotated[(checked, *constraints)] if constraints else checked
        if version >= table.columns_since.get(name, FIRST_VERSION):
            fields[name] = (annotation, ...)
        elif info.default_factory is not None:  # one value per row, not one for all
            fields[name] = (annotation, Field(default_factory=info.default_factory))
        else:
            fields[name] = (annotation, info.default)
    validators = {"check": model_validator(mode="after")(table.check)} if table.check else None
    return create_model(
        f"{table.model.__name__}Row",
        __base__=Row,
        __validators__=validators,  # type: ignore[arg-type]
        **fields,
    )


class MediaFileData(BaseModel):
    """One media file in an export: its key (in the exported blog), type and bytes."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    key: str = Field(max_length=300)
    content_type: str = Field(max_length=32)
    data: str = Field(description="The bytes, base64.")


class TenantExport(BaseModel):
    """The whole file. The model a file is read with is a subclass made for its version
    and tables (:func:`parse_export`), with one list of rows per exported table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["blog-tenant-export"]
    version: int
    exported_at: AwareDatetime
    secrets: bool = False
    tenant: Row
    media_files: list[MediaFileData] | None = Field(
        default=None, description="The media's files (``--with-media``); null: not in the file."
    )

    @property
    def tenant_id(self) -> uuid.UUID:
        """The exported blog's id."""
        tenant_id: uuid.UUID = getattr(self.tenant, "id")  # noqa: B009 - a made model's field
        return tenant_id

    @property
    def tenant_slug(self) -> str:
        """The exported blog's slug."""
        slug: str = getattr(self.tenant, "slug")  # noqa: B009 - a made model's field
        return slug

    def rows(self, table: Exported) -> list[Row]:
        """The rows of ``table`` in the file."""
        rows: list[Row] = getattr(self, table.name)
        return rows

    def summary(self, tables: Sequence[Exported] | None = None) -> str:
        """``3 users, 2 tags, …``"""
        return ", ".join(f"{len(self.rows(table))} {table.name}" for table in _tables(tables))

    def scheduled_posts(self) -> int:
        """How many posts wait for their publication time."""
        posts = self.rows(_exported(Post))
        return sum(getattr(post, "status") == PostStatus.scheduled for post in posts)  # noqa: B009

    def secrets_made_on_import(self, tables: Sequence[Exported] | None = None) -> list[str]:
        """``table.column`` of each secret an import of this file makes afresh."""
        if self.secrets:
            return []
        return [
            f"{table.name}.{name}"
            for table in _tables(tables)
            if self.rows(table)
            for name in sorted(table.secret)
        ]


def _tables(tables: Sequence[Exported] | None) -> tuple[Exported, ...]:
    """The given tables, or :data:`TABLES` as it is now (tests declare others)."""
    return TABLES if tables is None else tuple(tables)


def _exported(model: type[SQLModel]) -> Exported:
    return next(table for table in TABLES if table.model is model)


@cache
def _file_model(tables: tuple[Exported, ...], version: int, secrets: bool) -> type[TenantExport]:
    rows: dict[str, Any] = {
        table.name: (
            list[table.row_model(version=version, secrets=secrets)],  # type: ignore[misc]
            ... if version >= table.since else Field(default_factory=list),
        )
        for table in tables
    }
    return create_model(
        f"TenantExportV{version}",
        __base__=TenantExport,
        tenant=(TENANT.row_model(version=version, secrets=secrets), ...),
        **rows,
    )


_SLUG = TypeAdapter(TenantSlug)


def export_tenant(
    session: Session,
    *,
    tenant: Tenant,
    include_secrets: bool = False,
    tables: Sequence[Exported] | None = None,
) -> TenantExport:
    """Everything of ``tenant`` that moves with it (:data:`TABLES`), secret columns only
    with ``include_secrets``; the session must be bound to the blog."""
    tables = _tables(tables)
    rows: dict[str, list[Row]] = {}
    for table in tables:
        row_model = table.row_model(secrets=include_secrets)
        columns = [getattr(table.model, name) for name in row_model.model_fields]
        query = sa.select(*columns).order_by(*sa.inspect(table.model).primary_key)
        rows[table.name] = [
            row_model.model_validate(dict(row._mapping)) for row in session.execute(query)
        ]
    return _file_model(tables, VERSION, include_secrets).model_validate(
        {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": utcnow(),
            "secrets": include_secrets,
            "tenant": TENANT.row_model(secrets=include_secrets).model_validate(
                tenant, from_attributes=True
            ),
            **rows,
        }
    )


def parse_export(text: str | bytes, *, tables: Sequence[Exported] | None = None) -> TenantExport:
    """Read an export file; a file of another format or version is refused by name, a
    bad row with its place (``users.3.role``)."""
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidExport(f"not a JSON file: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InvalidExport(f'not a blog export (it needs "format": "{FORMAT}")')
    version = raw.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise InvalidExport(
            f"export format version {version!r} is not supported "
            f"(this version of blog reads versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    secrets = raw.get("secrets", False)
    if not isinstance(secrets, bool):
        raise InvalidExport('"secrets" must be true or false')
    return _file_model(_tables(tables), version, secrets).model_validate_json(text)


def import_tenant(
    session: Session,
    *,
    data: TenantExport,
    slug: str,
    tables: Sequence[Exported] | None = None,
) -> Tenant:
    """Create the blog ``slug`` with every row of ``data``, keeping ids (see the module).

    Core inserts in batches, in foreign-key order, in the session's transaction: the
    caller commits all or nothing. Secret columns the file does not hold get fresh
    values. The session ends bound to the new blog.
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
    id_taken = session.get(Tenant, data.tenant_id) is not None
    tenant = Tenant.model_validate(
        {
            **_with_fresh_secrets(TENANT, data.tenant.model_dump(), data.secrets),
            "slug": slug,
            "id": uuid7() if id_taken else data.tenant_id,
        }
    )
    session.add(tenant)
    session.flush()
    bind_tenant(session, tenant.id)
    for table in _tables(tables):
        rows = data.rows(table)
        insert = sa.insert(table_of(table.model))
        for start in range(0, len(rows), INSERT_BATCH):
            session.execute(
                insert,
                [
                    {
                        "tenant_id": tenant.id,
                        **_with_fresh_secrets(table, row.model_dump(), data.secrets),
                    }
                    for row in rows[start : start + INSERT_BATCH]
                ],
            )
        if table.after_import is not None and rows:
            table.after_import(session, rows)
    session.flush()
    return tenant


def _with_fresh_secrets(table: Exported, row: dict[str, Any], included: bool) -> dict[str, Any]:
    if included or not table.secret:
        return row
    return {**row, **{name: table.generator(name)() for name in table.secret}}
