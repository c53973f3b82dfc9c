"""Every list of posts: the native list, the feed, a user's posts, the RealWorld articles.

One filter set (:class:`PostFilter`), one order (newest first by the list's time, then by
id), one item shape (:class:`~blog.posts.schemas.PostSummaryData`), read without ORM objects:
one statement of plain columns for the page, its authors and favorite counts, one for its
tags. The page's posts are found from the index first and only then read (a deferred
join), so a deep page reads no post above it; ``after`` (a keyset cursor) serves infinite
scroll without an offset at all, and the list's total and positions are counted once per
blog version. With ``q`` the list is of the posts the search index finds
(:mod:`blog.posts.search`), best match first unless told newest first.

An item carries nothing personal: what the viewer marked (``favorited``, ``following``) is
read apart, by :func:`favorited_among`, so that one list serves every viewer (see
:mod:`blog.shared`). Statements are built once per shape (which filters are present, offset
or cursor) with bound parameters; tenant scoping adds its criteria as to any ORM statement,
and SQLAlchemy's cache keeps the compiled SQL.
"""

import base64
import binascii
import threading
import uuid
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.pagination import PageParams
from blog.posts import search
from blog.posts.exceptions import CursorNeedsNewestFirst, InvalidCursor
from blog.posts.models import Favorite, Post, PostStatus, PostTag, Tag, public_posts
from blog.posts.schemas import PostSummaryData
from blog.tenancy import bound_tenant
from blog.users.models import Follow, Role, User


class PostOrder(StrEnum):
    newest = "newest"
    relevance = "relevance"  # best match first: with ``q`` only


@dataclass(frozen=True, slots=True)
class PostFilter:
    """Which posts a list shows. ``status=None``: published posts and the viewer's drafts
    (an editor's: everyone's), as on a user's own profile."""

    status: PostStatus | None = PostStatus.published
    author: str | None = None  # a username, any case
    author_id: uuid.UUID | None = None
    tag: str | None = None
    q: str | None = None  # words to search for (:func:`blog.posts.search.parse`)
    language: str = search.DEFAULT_LANGUAGE  # the blog's, for ``q``
    favorited_by: str | None = None  # a username, any case
    followed_by: uuid.UUID | None = None  # posts of the authors this member follows

    @property
    def public(self) -> bool:
        """Whether the list is the same for every viewer (only drafts depend on who asks)."""
        return self.status == PostStatus.published


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[PostSummaryData]
    total: int
    next: str | None  # the cursor of the page after this one; None on the last page
    # With ``q``: each item's body around the words found, as HTML (search.highlighted).
    snippets: dict[uuid.UUID, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a statement's text depends on: each shape is built once."""

    status: PostStatus | None
    own_drafts_only: bool
    author: bool
    author_id: bool
    tag: bool
    q: bool
    relevance: bool  # best match first (with ``q``), else newest first
    dialect: str  # the search index is the database's own
    favorited_by: bool
    followed_by: bool
    cursor: bool
    paged: bool
    counted: bool  # the statement counts the list (no total known for this version)

    @property
    def total_with_ranking(self) -> bool:
        """PostgreSQL counts a ranked list in the pass that ranks the matches (a window)
        rather than reading them twice. (SQLite's index sorts by rank itself, as it reads,
        only without one.)"""
        return self.relevance and self.dialect == "postgresql"


# A deep page starts from the nearest of these positions (a key every STEP posts), found
# once per blog version and list, instead of stepping through every key above it.
STEP = 256
# Lists (blog, version, filter) whose total and positions are kept, and their positions in
# all: about 10 MiB at most, whatever the blogs' sizes.
POSITIONS_KEPT = 512
POSITION_KEYS_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class _Positions:
    total: int
    keys: list[tuple[datetime, uuid.UUID]]  # the keys of items STEP-1, 2*STEP-1, …


class _KeptPositions:
    """Lists' totals and positions by (blog, version, filter), bounded in lists and keys;
    shared by the request threads of a worker."""

    def __init__(self) -> None:
        self.lists: OrderedDict[tuple[Any, ...], _Positions] = OrderedDict()
        self.keys = 0
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> _Positions | None:
        with self.lock:
            found = self.lists.get(key)
            if found is not None:
                self.lists.move_to_end(key)
            return found

    def add(self, key: tuple[Any, ...], found: _Positions) -> None:
        with self.lock:
            if key not in self.lists:
                self.lists[key] = found
                self.keys += len(found.keys)
            while len(self.lists) > POSITIONS_KEPT or self.keys > POSITION_KEYS_KEPT:
                _, evicted = self.lists.popitem(last=False)
                self.keys -= len(evicted.keys)


_kept = _KeptPositions()


def list_posts(
    session: Session,
    *,
    filter: PostFilter,
    viewer: User | None,
    page: PageParams | None,
    after: str | None = None,
    version: int | None = None,
    order: PostOrder | None = None,
) -> Listing:
    """One page of the list (``page=None``: all of it) with its total: newest first, or
    with ``q`` best match first (``order`` says otherwise).

    ``version``, the blog's content version as the request found it, lets the list's total
    and positions be counted once per version (see :data:`STEP`) rather than per page.
    """
    editor = viewer is not None and viewer.role.at_least(Role.editor)
    query = search.parse(filter.q or "")
    if filter.q and query.empty:
        return Listing(items=[], total=0, next=None)  # no word to look for: nothing found
    relevance = bool(filter.q) and order != PostOrder.newest
    if relevance and after is not None:
        raise CursorNeedsNewestFirst()
    dialect = session.get_bind().dialect.name
    criteria_shape = _Shape(
        status=filter.status,
        own_drafts_only=filter.status != PostStatus.published and not editor,
        author=filter.author is not None,
        author_id=filter.author_id is not None,
        tag=filter.tag is not None,
        q=bool(filter.q),
        relevance=relevance,
        dialect=dialect,
        favorited_by=filter.favorited_by is not None,
        followed_by=filter.followed_by is not None,
        cursor=False,
        paged=False,
        counted=False,
    )
    params: dict[str, Any] = {
        "viewer_id": viewer.id if viewer is not None and criteria_shape.own_drafts_only else None,
        "author": (filter.author or "").strip().lower(),
        "author_id": filter.author_id,
        "tag": (filter.tag or "").strip().lower(),
        "q": search.query_parameter(query, dialect),
        "language": filter.language,
        "favorited_by": (filter.favorited_by or "").strip().lower(),
        "followed_by": filter.followed_by,
    }
    positions = None
    tenant_id = bound_tenant(session)
    if version is not None and page is not None and tenant_id is not None and not relevance:
        key = (tenant_id, version, STEP, criteria_shape, *params.values())
        positions = _known_positions(session, key, criteria_shape, params)
    offset = 0 if page is None or after else page.offset
    if after is not None:
        params["after_key"], params["after_id"] = decode_cursor(after)
    elif positions is not None and offset >= STEP and offset // STEP <= len(positions.keys):
        # Start after the nearest known position above the page.
        start = offset // STEP * STEP
        params["after_key"], params["after_id"] = positions.keys[start // STEP - 1]
        offset -= start
    if page is not None:
        # One more than the page: whether another page follows.
        params.update(limit=page.limit + 1, offset=offset)
    shape = replace(
        criteria_shape,
        cursor="after_key" in params,
        paged=page is not None,
        counted=positions is None,
    )
    rows = session.execute(_statement(shape), params).all()
    items = _items(rows)
    _add_tags(session, items)
    more = page is not None and len(items) > page.limit
    if more:
        del items[-1]
    last = items[-1] if items else None
    cursor = (
        encode_cursor(_key_of(last, filter.status), last["id"])
        if more and last and not relevance
        else None
    )
    if positions is not None:
        total = positions.total
    elif rows:
        total = rows[0].total
    else:  # a ranked page past the last match: the count alone
        total = session.execute(_count_statement(shape), params).scalar_one()
    snippets = (
        search.snippets(session, ids=[item["id"] for item in items], params=params, dialect=dialect)
        if filter.q
        else {}
    )
    return Listing(items=items, total=total, next=cursor, snippets=snippets)


def _known_positions(
    session: Session, key: tuple[Any, ...], shape: _Shape, params: dict[str, Any]
) -> _Positions:
    """The list's total and positions for this version, counted on first use."""
    found = _kept.get(key)
    if found is None:
        rows = session.execute(_positions_statement(shape), {**params, "step": STEP}).all()
        found = _Positions(
            total=rows[0].total if rows else 0,
            keys=[(row.key, row.id) for row in rows if row.n % STEP == 0],
        )
        _kept.add(key, found)
    return found


@lru_cache(maxsize=64)
def _positions_statement(shape: _Shape) -> sa.Select[Any]:
    """The first item and every STEP-th, numbered, with the list's total: one scan of the
    index for the public list."""
    key = _order_key(shape.status)
    numbered = _filtered(
        sa.select(
            key.label("key"),
            col(Post.id).label("id"),
            sa.func.row_number().over(order_by=(key.desc(), col(Post.id).desc())).label("n"),
            sa.func.count().over().label("total"),
        ),
        shape,
    ).subquery("numbered")
    return (
        sa.select(numbered)
        .where(sa.or_(numbered.c.n == 1, numbered.c.n % sa.bindparam("step") == 0))
        .order_by(numbered.c.n)
    )


def _key_of(item: PostSummaryData, status: PostStatus | None) -> datetime:
    if status == PostStatus.published:
        # Published posts always have the time (every writer sets it).
        return item["published_at"] or item["created_at"]
    if status == PostStatus.draft:
        return item["created_at"]
    return item["published_at"] or item["created_at"]


def encode_cursor(key: datetime, post_id: uuid.UUID) -> str:
    """Opaque to clients: the last item's time and id."""
    raw = key.astimezone(UTC).isoformat().encode() + b"|" + post_id.hex.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, _, post_id = raw.partition("|")
        moment = datetime.fromisoformat(key)
        if moment.tzinfo is None:
            raise ValueError(key)
        return moment.astimezone(UTC), uuid.UUID(hex=post_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor() from exc


def _order_key(status: PostStatus | None) -> sa.ColumnElement[Any]:
    """The list's time: publication for published posts, creation for drafts."""
    if status == PostStatus.published:
        return col(Post.published_at)  # type: ignore[return-value]
    if status == PostStatus.draft:
        return col(Post.created_at)  # type: ignore[return-value]
    return sa.func.coalesce(col(Post.published_at), col(Post.created_at))


def _criteria(shape: _Shape) -> list[sa.ColumnElement[bool]]:
    criteria: list[sa.ColumnElement[bool]] = []
    if shape.status == PostStatus.published:
        criteria.append(public_posts())
    elif shape.status is not None:
        criteria.append(col(Post.status) == shape.status)
    own = col(Post.author_id) == sa.bindparam("viewer_id")
    if shape.own_drafts_only:
        criteria.append(own if shape.status is not None else sa.or_(public_posts(), own))
    if shape.author:
        authors = select(User.id).where(col(User.username_key) == sa.bindparam("author"))
        criteria.append(col(Post.author_id).in_(authors))
    if shape.author_id:
        criteria.append(col(Post.author_id) == sa.bindparam("author_id"))
    if shape.tag:
        tagged = (
            select(PostTag.post_id)
            .join(Tag, tag_link())
            .where(col(Tag.name) == sa.bindparam("tag"))
        )
        criteria.append(col(Post.id).in_(tagged))
    if shape.favorited_by:
        fans = select(User.id).where(col(User.username_key) == sa.bindparam("favorited_by"))
        criteria.append(
            col(Post.id).in_(select(Favorite.post_id).where(col(Favorite.user_id).in_(fans)))
        )
    if shape.followed_by:
        followed = select(Follow.followed_id).where(
            col(Follow.follower_id) == sa.bindparam("followed_by")
        )
        criteria.append(col(Post.author_id).in_(followed))
    return criteria


def _filtered(statement: sa.Select[Any], shape: _Shape) -> sa.Select[Any]:
    """``statement`` over ``posts`` limited to the list's posts (searched through the
    index, with ``q``)."""
    statement = statement.where(*_criteria(shape))
    return search.restrict(statement, shape.dialect) if shape.q else statement


def tag_link() -> sa.ColumnElement[bool]:
    """A tag link's tag."""
    return sa.and_(col(Tag.tenant_id) == col(PostTag.tenant_id), col(Tag.id) == col(PostTag.tag_id))


@lru_cache(maxsize=256)
def _statement(shape: _Shape) -> sa.Select[Any]:
    """A row of totals, left-joined to the page's posts (ranked on PostgreSQL: the page's
    rows, each with the total, which the ranking's pass counts).

    The page's keys come from a subquery over ``posts`` alone, which the index
    ``(tenant_id, status, published_at, id)`` answers by itself for the public list; only
    those rows are then read. Joins are of entities (not tables), so that tenant scoping
    adds its criteria to every one of them.
    """
    key = _order_key(shape.status)
    order = search.rank(shape.dialect) if shape.relevance else key
    ordered = order.label("key")
    keys = _filtered(sa.select(col(Post.id).label("id"), ordered), shape)
    if shape.total_with_ranking:
        keys = keys.add_columns(sa.func.count().over().label("total"))
    if shape.cursor:
        after_key = sa.bindparam("after_key", type_=Post.__table__.c.created_at.type)  # type: ignore[attr-defined]
        # "Before the cursor in the order": the first condition alone is a range of the
        # index, so the database starts there instead of filtering every key above it.
        keys = keys.where(
            key <= after_key,
            sa.or_(key < after_key, col(Post.id) < sa.bindparam("after_id")),
        )
    keys = keys.order_by(
        *(
            search.best_first(shape.dialect, ordered)
            if shape.relevance
            else (ordered.desc(), col(Post.id).desc())
        )
    )
    if shape.paged:
        keys = keys.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
    found = keys.subquery("keys")
    favorites = (
        select(sa.func.count())
        .select_from(Favorite)
        .where(col(Favorite.post_id) == col(Post.id))
        .scalar_subquery()
    )
    page = (
        sa.select(
            col(Post.id),
            col(Post.slug),
            col(Post.title),
            col(Post.description),
            col(Post.status),
            col(Post.published_at),
            col(Post.created_at),
            col(Post.updated_at),
            found.c.key,
            *([found.c.total] if shape.total_with_ranking else []),
            col(User.id).label("author_id"),
            col(User.username).label("author_username"),
            col(User.name).label("author_name"),
            col(User.bio).label("author_bio"),
            col(User.image).label("author_image"),
            col(User.role).label("author_role"),
            col(User.created_at).label("author_created_at"),
            favorites.label("favorites_count"),
        )
        .select_from(found)
        .join(Post, col(Post.id) == found.c.id)
        .outerjoin(User, _writes())
    ).subquery("page")
    if shape.total_with_ranking:
        return sa.select(*(column for column in page.c if column.key != "key")).order_by(
            page.c.key.desc(), page.c.id.desc()
        )
    counted = (
        _count_statement(shape).correlate(None).scalar_subquery() if shape.counted else sa.null()
    )
    totals = sa.select(counted.label("total")).subquery("totals")
    return (
        sa.select(totals, *(column for column in page.c if column.key != "key"))
        .select_from(totals)
        .outerjoin(page, sa.true())
        .order_by(page.c.key.desc(), page.c.id.desc())
    )


@lru_cache(maxsize=256)
def _count_statement(shape: _Shape) -> sa.Select[Any]:
    return _filtered(select(sa.func.count()).select_from(Post), shape)


# The tags of a page's posts, in each post's order: by the link table's key.
_TAGS = (
    sa.select(col(PostTag.post_id), col(Tag.name))
    .join(Tag, tag_link())
    .where(col(PostTag.post_id).in_(sa.bindparam("page_ids", expanding=True)))
    .order_by(col(PostTag.post_id), col(PostTag.position))
)


def _add_tags(session: Session, items: list[PostSummaryData]) -> None:
    """Each item's tags, in one more statement: a row per tag, two columns (read with the
    page, a row per tag repeated every column of the post)."""
    if not items:
        return
    by_post = {item["id"]: item["tags"] for item in items}
    for post_id, name in session.execute(_TAGS, {"page_ids": list(by_post)}):
        by_post[post_id].append(name)


def _writes() -> sa.ColumnElement[bool]:
    """A post's author (none once the account is deleted)."""
    return sa.and_(col(User.tenant_id) == col(Post.tenant_id), col(User.id) == col(Post.author_id))


def _items(rows: Collection[Any]) -> list[PostSummaryData]:
    items: list[PostSummaryData] = []
    for row in rows:
        if row.id is None:  # the totals of an empty page
            continue
        items.append(
            {
                "id": row.id,
                "slug": row.slug,
                "title": row.title,
                "description": row.description,
                "status": row.status,
                "tags": [],
                "published_at": row.published_at,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "author": None
                if row.author_id is None
                else {
                    "id": row.author_id,
                    "username": row.author_username,
                    "name": row.author_name,
                    "bio": row.author_bio,
                    "image": row.author_image,
                    "role": row.author_role,
                    "created_at": row.author_created_at,
                },
                "favorites_count": row.favorites_count,
                "favorited": False,
            }
        )
    return items


def favorited_among(
    session: Session, *, viewer: User | None, post_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``post_ids`` the viewer favorited (one indexed query, whatever their number)."""
    if viewer is None or not post_ids:
        return set()
    return set(
        session.exec(
            select(Favorite.post_id).where(
                col(Favorite.user_id) == viewer.id, col(Favorite.post_id).in_(post_ids)
            )
        ).all()
    )
