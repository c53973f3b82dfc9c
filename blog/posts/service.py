"""Posts, tags and comments. Sessions are bound to the tenant; no query names tenant_id.

Visibility: published posts are public; a draft is visible to its author and to
editors and above, and is a 404 to anyone else.
"""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from slugify import slugify
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from blog.database import insert_ignoring_conflicts, utcnow, uuid7
from blog.pagination import PageParams, fetch_page
from blog.posts.exceptions import (
    CommentNotFound,
    NotCommentModerator,
    NotPostEditor,
    PostNotFound,
    PostNotPublished,
    SlugUnavailable,
)
from blog.posts.models import Comment, Favorite, Post, PostStatus, PostTag, Tag
from blog.posts.schemas import CommentCreate, PostCreate, PostSummaryData, PostUpdate
from blog.tenancy import bound_tenant
from blog.users.exceptions import UserNotFound
from blog.users.models import Follow, Role, User

SLUG_BASE_MAX_LENGTH = 80
SLUG_ATTEMPTS = 5
FALLBACK_SLUG = "post"


def _is_editor(user: User | None) -> bool:
    return user is not None and user.role.at_least(Role.editor)


def _visible_to(viewer: User | None) -> sa.ColumnElement[bool]:
    published = col(Post.status) == PostStatus.published
    if viewer is None:
        return published
    if _is_editor(viewer):
        return sa.true()
    return sa.or_(published, col(Post.author_id) == viewer.id)


def _links_tag() -> sa.ColumnElement[bool]:
    return sa.and_(col(Tag.tenant_id) == col(PostTag.tenant_id), col(Tag.id) == col(PostTag.tag_id))


def _writes() -> sa.ColumnElement[bool]:
    """A post's author (none once the account is deleted)."""
    return sa.and_(col(User.tenant_id) == col(Post.tenant_id), col(User.id) == col(Post.author_id))


def _links_post() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Post.tenant_id) == col(PostTag.tenant_id), col(Post.id) == col(PostTag.post_id)
    )


def _published_newest_first(query: SelectOfScalar[Post]) -> SelectOfScalar[Post]:
    """The public order of a list: published posts, by publication, newest first."""
    return query.where(col(Post.status) == PostStatus.published).order_by(
        col(Post.published_at).desc(), col(Post.id).desc()
    )


def _with_author_and_tags() -> tuple[Any, ...]:
    return (selectinload(Post.author), selectinload(Post.tags))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Listing:
    """Which posts a list shows, newest first by ``key`` (then by id)."""

    criteria: tuple[sa.ColumnElement[bool], ...]
    key: Any  # Post.published_at or Post.created_at
    # Whether the criteria and the order are those of an index (tenant_id, status, key),
    # so that a position in the list can be found in the index without reading posts.
    indexed: bool

    def order(self) -> tuple[sa.UnaryExpression[Any], ...]:
        return (col(self.key).desc(), col(Post.id).desc())


def _listing(
    *,
    viewer: User | None,
    status: PostStatus,
    author: str | None,
    tag: str | None,
    q: str | None,
    favorited_by: str | None,
) -> _Listing:
    """Published posts by publication; or drafts by creation: the viewer's own (editors: all)."""
    criteria: list[sa.ColumnElement[bool]] = [col(Post.status) == status]
    if status == PostStatus.draft and not _is_editor(viewer):
        criteria.append(col(Post.author_id) == (viewer.id if viewer else None))
    if author:
        authors = select(User.id).where(col(User.username_key) == author.strip().lower())
        criteria.append(col(Post.author_id).in_(authors))
    if tag:
        tagged = (
            select(PostTag.post_id)
            .join(Tag, _links_tag())
            .where(col(Tag.name) == tag.strip().lower())
        )
        criteria.append(col(Post.id).in_(tagged))
    if favorited_by:
        fans = select(User.id).where(col(User.username_key) == favorited_by.strip().lower())
        favorites = select(Favorite.post_id).where(col(Favorite.user_id).in_(fans))
        criteria.append(col(Post.id).in_(favorites))
    if q:
        key = q.strip().lower()
        criteria.append(
            sa.or_(
                *(
                    sa.func.lower(column).contains(key, autoescape=True)
                    for column in (Post.title, Post.description, Post.body)
                )
            )
        )
    published = status == PostStatus.published
    return _Listing(
        criteria=tuple(criteria),
        key=Post.published_at if published else Post.created_at,
        indexed=published and len(criteria) == 1,
    )


def list_posts(
    session: Session,
    *,
    viewer: User | None,
    params: PageParams,
    status: PostStatus = PostStatus.published,
    author: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    favorited_by: str | None = None,
) -> tuple[Sequence[Post], int]:
    """Published posts newest first; or drafts: the viewer's own (editors: all).

    ORM objects with author and tags loaded; :func:`list_post_summaries` is the lean
    form of the same list.
    """
    listing = _listing(
        viewer=viewer, status=status, author=author, tag=tag, q=q, favorited_by=favorited_by
    )
    query = (
        select(Post)
        .options(*_with_author_and_tags())
        .where(*listing.criteria)
        .order_by(*listing.order())
    )
    return fetch_page(session, query, params)


def list_post_summaries(
    session: Session,
    *,
    viewer: User | None,
    params: PageParams,
    status: PostStatus = PostStatus.published,
    author: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    favorited_by: str | None = None,
) -> tuple[list[PostSummaryData], int]:
    """The list of :func:`list_posts` as plain data with favorite marks, in one statement.

    It reads the total and the page's columns only: authors joined, tags joined (a row per
    tag), favorite counts and the viewer's own marks as subqueries. No ORM objects; tenant
    scoping applies as to any ORM statement.
    """
    listing = _listing(
        viewer=viewer, status=status, author=author, tag=tag, q=q, favorited_by=favorited_by
    )
    seek = listing.indexed and params.offset > 0
    rows = session.execute(_summaries_statement(listing, params, viewer, seek=seek)).all()
    if seek and rows[0].unordered:
        # Some posts have no time to order by: seeking the page in the index would be wrong.
        rows = session.execute(_summaries_statement(listing, params, viewer, seek=False)).all()
    items: list[PostSummaryData] = []
    for row in rows:
        if row.id is None:  # the totals of an empty page
            continue
        if not items or items[-1]["id"] != row.id:
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
                    "favorited": bool(row.favorited),
                }
            )
        if row.tag is not None:
            items[-1]["tags"].append(row.tag)
    total: int = rows[0].total
    return items, total


def _counted(*criteria: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    return (
        select(sa.func.count()).select_from(Post).where(*criteria).correlate(None).scalar_subquery()
    )


def _summaries_statement(
    listing: _Listing, params: PageParams, viewer: User | None, *, seek: bool
) -> sa.Select[Any]:
    """A row of totals, left-joined to the page's posts, each joined to its tags.

    With ``seek``, the page starts at the ``key`` of the post at ``offset``, found in the
    index (tenant_id, status, key) alone, and skips only the posts of that same ``key``
    before it (the offset less the posts ``above``): no post above the page is read.
    Exact when every listed post has a ``key`` (``unordered`` counts those that do not).
    """
    criteria, key = listing.criteria, col(listing.key)
    favorites = (
        select(sa.func.count())
        .select_from(Favorite)
        .where(col(Favorite.post_id) == col(Post.id))
        .scalar_subquery()
    )
    favorited = (
        sa.exists().where(col(Favorite.post_id) == col(Post.id), col(Favorite.user_id) == viewer.id)
        if viewer is not None
        else sa.false()
    )
    page: sa.Select[*tuple[Any, ...]] = (
        sa.select(
            col(Post.id),
            col(Post.slug),
            col(Post.title),
            col(Post.description),
            col(Post.status),
            col(Post.published_at),
            col(Post.created_at),
            col(Post.updated_at),
            col(User.id).label("author_id"),
            col(User.username).label("author_username"),
            col(User.name).label("author_name"),
            col(User.bio).label("author_bio"),
            col(User.image).label("author_image"),
            col(User.role).label("author_role"),
            col(User.created_at).label("author_created_at"),
            favorites.label("favorites_count"),
            favorited.label("favorited"),
        )
        .select_from(Post)
        .outerjoin(User, _writes())
        .where(*criteria)
        .order_by(*listing.order())
        .limit(params.limit)
    )
    if seek:
        # A CTE, so that the database finds it once for its two uses.
        found = (
            select(key.label("key"))
            .where(*criteria)
            .order_by(key.desc())
            .limit(1)
            .offset(params.offset)
            .cte("start")
        )
        start = select(found.c.key).scalar_subquery()
        above = _counted(*criteria, key > start)
        page = page.where(key <= start).offset(sa.literal(params.offset) - above)
    else:
        page = page.offset(params.offset)
    posts = page.subquery("page")
    totals = sa.select(
        _counted(*criteria).label("total"),
        (_counted(*criteria, key.is_(None)) if seek else sa.null()).label("unordered"),
    ).subquery("totals")
    # Joins of entities (not of tables), so that tenant scoping adds its criteria to them.
    return (
        sa.select(totals, posts, col(Tag.name).label("tag"))
        .select_from(totals)
        .outerjoin(posts, sa.true())
        .outerjoin(PostTag, col(PostTag.post_id) == posts.c.id)
        .outerjoin(Tag, _links_tag())
        .order_by(posts.c[listing.key.key].desc(), posts.c.id.desc(), col(PostTag.position))
    )


def get_post(
    session: Session,
    *,
    viewer: User | None,
    post_id: uuid.UUID | None = None,
    slug: str | None = None,
) -> Post:
    """A post the viewer may see, with author and tags loaded (404 otherwise)."""
    query = select(Post).options(*_with_author_and_tags()).where(_visible_to(viewer))
    if post_id is not None:
        query = query.where(col(Post.id) == post_id)
    if slug is not None:
        query = query.where(col(Post.slug) == slug)
    post = session.exec(query.execution_options(populate_existing=True)).first()
    if post is None:
        raise PostNotFound()
    return post


def ensure_can_edit(post: Post, *, user: User) -> None:
    """The post's author or an editor may change or delete it."""
    if post.author_id != user.id and not _is_editor(user):
        raise NotPostEditor()


def _slug_base(title: str) -> str:
    return slugify(title, max_length=SLUG_BASE_MAX_LENGTH, word_boundary=True) or FALLBACK_SLUG


def _slug_taken(session: Session, slug: str, *, exclude: uuid.UUID | None = None) -> bool:
    query = select(Post.id).where(col(Post.slug) == slug)
    if exclude is not None:
        query = query.where(col(Post.id) != exclude)
    return session.exec(query.limit(1)).first() is not None


def _save_with_unique_slug(session: Session, post: Post) -> None:
    """Flush ``post`` with a slug from its title, unique in the tenant.

    A taken slug gets a random suffix. The unique constraint is the judge: when a
    concurrent request takes the same slug between check and write, the savepoint
    is rolled back and another suffix tried, so neither request fails.
    """
    base = _slug_base(post.title)
    slug = base
    if _slug_taken(session, base, exclude=post.id):
        slug = f"{base}-{secrets.token_hex(3)}"
    for _ in range(SLUG_ATTEMPTS):
        post.slug = slug
        try:
            with session.begin_nested():
                session.add(post)
        except sa.exc.IntegrityError:
            slug = f"{base}-{secrets.token_hex(3)}"
            continue
        return
    raise SlugUnavailable()


def _upsert_tags(session: Session, names: list[str]) -> dict[str, uuid.UUID]:
    """Ids of the named tags, creating the missing ones (safe against concurrent creation)."""

    def existing() -> dict[str, uuid.UUID]:
        rows = session.execute(select(Tag.name, Tag.id).where(col(Tag.name).in_(names))).all()
        return {name: tag_id for name, tag_id in rows}  # noqa: C416 - typed rows

    found = existing()
    missing = [name for name in names if name not in found]
    if missing:
        tenant_id = bound_tenant(session)
        insert_ignoring_conflicts(
            session,
            Tag,
            [{"tenant_id": tenant_id, "id": uuid7(), "name": name} for name in missing],
            key=["tenant_id", "name"],
        )
        found = existing()
    return found


def _replace_tags(session: Session, post: Post, names: list[str]) -> None:
    session.execute(sa.delete(PostTag).where(col(PostTag.post_id) == post.id))
    if not names:
        return
    ids = _upsert_tags(session, names)
    session.execute(
        sa.insert(PostTag),
        [
            {"tenant_id": post.tenant_id, "post_id": post.id, "tag_id": ids[name], "position": i}
            for i, name in enumerate(names)
        ],
    )


def create_post(session: Session, *, author: User, data: PostCreate) -> Post:
    """Write a post (and its tags) as ``author``; all or nothing."""
    now = utcnow()
    post = Post(
        tenant_id=author.tenant_id,
        author_id=author.id,
        title=data.title,
        slug="",
        description=data.description,
        body=data.body,
        status=data.status,
        published_at=now if data.status == PostStatus.published else None,
        created_at=now,
        updated_at=now,
    )
    _save_with_unique_slug(session, post)
    _replace_tags(session, post, data.tags)
    return get_post(session, viewer=author, post_id=post.id)


def update_post(
    session: Session,
    *,
    post: Post,
    editor: User,
    data: PostUpdate,
    slug_follows_published_title: bool = False,
) -> Post:
    """Partial update. A slug follows the title only until the post is first published
    (links stay valid), unless ``slug_follows_published_title`` (the RealWorld rule)."""
    changes = data.model_dump(exclude_unset=True)
    tags: list[str] | None = changes.pop("tags", None)
    slug_follows_title = (
        post.published_at is None or slug_follows_published_title
    ) and changes.get("title", post.title) != post.title
    post.sqlmodel_update(changes)
    if post.status == PostStatus.published and post.published_at is None:
        post.published_at = utcnow()
    post.updated_at = utcnow()
    if slug_follows_title:
        _save_with_unique_slug(session, post)
    else:
        session.add(post)
        session.flush()
    if tags is not None:
        _replace_tags(session, post, tags)
    return get_post(session, viewer=editor, post_id=post.id)


def delete_post(session: Session, *, post: Post) -> None:
    """Remove a post; its comments and tag links go with it (database cascade)."""
    session.execute(sa.delete(Post).where(col(Post.id) == post.id))


def detach_author(session: Session, *, user: User) -> None:
    """Keep a departing user's posts (and others' comments on them), authorless."""
    session.execute(
        sa.update(Post).where(col(Post.author_id) == user.id).values(author_id=None),
        execution_options={"synchronize_session": False},
    )


def list_tags(session: Session, *, params: PageParams) -> tuple[Sequence[Any], int]:
    """Tags on published posts with their counts, most used first."""
    posts_count = sa.func.count(col(PostTag.post_id)).label("posts_count")
    query = (
        select(Tag.name, posts_count)
        .join(PostTag, _links_tag())
        .join(Post, _links_post())
        .where(col(Post.status) == PostStatus.published)
        .group_by(col(Tag.id), col(Tag.name))
        .order_by(posts_count.desc(), col(Tag.name))
    )
    return fetch_page(session, query, params, rows=True)


def get_user_with_posts(session: Session, *, user_id: uuid.UUID, viewer: User | None) -> User:
    """A user with their posts and the posts' tags, in a fixed number of queries."""
    own_or_editor = viewer is not None and (viewer.id == user_id or _is_editor(viewer))
    posts = User.posts if own_or_editor else User.posts.and_(Post.status == PostStatus.published)  # type: ignore[attr-defined]
    user = session.exec(
        select(User)
        .where(col(User.id) == user_id)
        .options(selectinload(posts).selectinload(Post.tags))  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    ).first()
    if user is None:
        raise UserNotFound()
    return user


def list_comments(
    session: Session, *, post: Post, params: PageParams
) -> tuple[Sequence[Comment], int]:
    query = (
        select(Comment)
        .where(col(Comment.post_id) == post.id)
        .options(selectinload(Comment.author))  # type: ignore[arg-type]
        .order_by(col(Comment.created_at), col(Comment.id))
    )
    return fetch_page(session, query, params)


def add_comment(session: Session, *, post: Post, author: User, data: CommentCreate) -> Comment:
    if post.status != PostStatus.published:
        raise PostNotPublished()
    now = utcnow()
    comment = Comment(
        tenant_id=post.tenant_id,
        post_id=post.id,
        number=next_comment_number(session, post_id=post.id),
        author_id=author.id,
        body=data.body,
        created_at=now,
        updated_at=now,
    )
    session.add(comment)
    session.flush()
    return get_comment(session, post=post, comment_id=comment.id)


def next_comment_number(session: Session, *, post_id: uuid.UUID) -> int:
    """Take the post's next comment number. The row update serializes concurrent comments
    on one post (and only on that post); a number, once taken, is never handed out again."""
    taken = session.execute(
        sa.update(Post)
        .where(col(Post.id) == post_id)
        .values(last_comment_number=col(Post.last_comment_number) + 1)
        .returning(col(Post.last_comment_number)),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    return int(taken)


def get_comment(
    session: Session,
    *,
    post: Post,
    comment_id: uuid.UUID | None = None,
    number: int | None = None,
) -> Comment:
    """A comment of ``post`` by its id or by its number in the post."""
    query = select(Comment).where(col(Comment.post_id) == post.id)
    if comment_id is not None:
        query = query.where(col(Comment.id) == comment_id)
    if number is not None:
        query = query.where(col(Comment.number) == number)
    comment = session.exec(
        query.options(selectinload(Comment.author)).execution_options(populate_existing=True)  # type: ignore[arg-type]
    ).first()
    if comment is None:
        raise CommentNotFound()
    return comment


def delete_comment(session: Session, *, post: Post, comment: Comment, actor: User) -> None:
    """The comment's author, the post's author, or an editor may remove a comment."""
    if actor.id not in (comment.author_id, post.author_id) and not _is_editor(actor):
        raise NotCommentModerator()
    session.execute(sa.delete(Comment).where(col(Comment.id) == comment.id))


def favorite(session: Session, *, post: Post, user: User) -> None:
    """Mark a post the user can see as a favorite (idempotent)."""
    insert_ignoring_conflicts(
        session,
        Favorite,
        [{"tenant_id": post.tenant_id, "user_id": user.id, "post_id": post.id}],
        key=["tenant_id", "user_id", "post_id"],
    )


def unfavorite(session: Session, *, post: Post, user: User) -> None:
    session.execute(
        sa.delete(Favorite).where(
            col(Favorite.user_id) == user.id, col(Favorite.post_id) == post.id
        )
    )


def favorite_marks(
    session: Session, *, posts: Sequence[Post], viewer: User | None
) -> dict[uuid.UUID, tuple[int, bool]]:
    """Per post: how many favorited it, and whether the viewer did (two queries at most)."""
    ids = [post.id for post in posts]
    if not ids:
        return {}
    counts = dict(
        session.execute(
            select(Favorite.post_id, sa.func.count())
            .where(col(Favorite.post_id).in_(ids))
            .group_by(col(Favorite.post_id))
        ).all()
    )
    mine: set[uuid.UUID] = set()
    if viewer is not None:
        mine = set(
            session.exec(
                select(Favorite.post_id).where(
                    col(Favorite.user_id) == viewer.id, col(Favorite.post_id).in_(ids)
                )
            ).all()
        )
    return {post_id: (counts.get(post_id, 0), post_id in mine) for post_id in ids}


def list_feed(session: Session, *, viewer: User, params: PageParams) -> tuple[Sequence[Post], int]:
    """Published posts of the authors the viewer follows, newest first."""
    followed = select(Follow.followed_id).where(col(Follow.follower_id) == viewer.id)
    query = select(Post).options(*_with_author_and_tags()).where(col(Post.author_id).in_(followed))
    return fetch_page(session, _published_newest_first(query), params)
