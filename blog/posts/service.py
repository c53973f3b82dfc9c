"""Posts, tags and comments. Sessions are bound to the tenant; no query names tenant_id.

Visibility: published posts are public; a draft is visible to its author and to
editors and above, and is a 404 to anyone else.
"""

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from slugify import slugify
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from blog.database import insert_ignoring_conflicts, utcnow, uuid7
from blog.pagination import PageParams, fetch_page
from blog.posts.exceptions import (
    AlreadyPublished,
    CommentNotFound,
    InvalidSchedule,
    NotCommentModerator,
    NotPostEditor,
    PostNotFound,
    PostNotPublished,
    SlugUnavailable,
)
from blog.posts.listing import favorited_among, tag_link
from blog.posts.models import Comment, Favorite, Post, PostStatus, PostTag, Tag, public_posts
from blog.posts.publishing import schedule_publication
from blog.posts.schemas import CommentCreate, PostCreate, PostUpdate
from blog.revisions import history
from blog.settings import get_settings
from blog.tenancy import bound_tenant
from blog.users.models import Role, User
from blog.webhooks.events import comment_data, emit, post_data, post_ref
from blog.webhooks.models import Event

SLUG_BASE_MAX_LENGTH = 80
SLUG_ATTEMPTS = 5
FALLBACK_SLUG = "post"


def _is_editor(user: User | None) -> bool:
    return user is not None and user.role.at_least(Role.editor)


def _visible_to(viewer: User | None) -> sa.ColumnElement[bool]:
    published = public_posts()
    if viewer is None:
        return published
    if _is_editor(viewer):
        return sa.true()
    return sa.or_(published, col(Post.author_id) == viewer.id)


def _links_post() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Post.tenant_id) == col(PostTag.tenant_id), col(Post.id) == col(PostTag.post_id)
    )


def _load_tags(session: Session, post: Post) -> None:
    """The post's tags in order, by the link table's key. (The relationship's own loaders
    read the link table whole on SQLite: by a (tenant_id, post_id) tuple, or nested in a
    join.)"""
    tags = session.exec(
        select(Tag)
        .join(PostTag, tag_link())
        .where(col(PostTag.post_id) == post.id)
        .order_by(col(PostTag.position))
    ).all()
    set_committed_value(post, "tags", list(tags))


def get_post(
    session: Session,
    *,
    viewer: User | None,
    post_id: uuid.UUID | None = None,
    slug: str | None = None,
) -> Post:
    """A post the viewer may see, with author and tags loaded (404 otherwise): two
    statements, each by an index."""
    query = select(Post).options(joinedload(Post.author)).where(_visible_to(viewer))  # type: ignore[arg-type]
    if post_id is not None:
        query = query.where(col(Post.id) == post_id)
    if slug is not None:
        query = query.where(col(Post.slug) == slug)
    post = session.exec(query.execution_options(populate_existing=True)).first()
    if post is None:
        raise PostNotFound()
    _load_tags(session, post)
    return post


def ensure_can_edit(post: Post, *, user: User) -> None:
    """The post's author or an editor may change or delete it."""
    if post.author_id != user.id and not _is_editor(user):
        raise NotPostEditor()


def _slug_base(title: str) -> str:
    return slugify(title, max_length=SLUG_BASE_MAX_LENGTH, word_boundary=True) or FALLBACK_SLUG


def _slug_taken(session: Session, slug: str, *, exclude: uuid.UUID) -> bool:
    query = select(Post.id).where(col(Post.slug) == slug, col(Post.id) != exclude)
    return session.exec(query.limit(1)).first() is not None


def _save_with_unique_slug(session: Session, post: Post) -> None:
    """Flush ``post`` with a slug from its title, unique in the tenant.

    A taken slug gets a random suffix. The unique constraint is the judge: when a
    concurrent request takes the same slug between check and write, the savepoint
    is rolled back and another suffix tried, so neither request fails.
    """
    base = _slug_base(post.title)
    slug = base
    # A changed post is flushed before the savepoint begins, outside its reach: ask first.
    # A new one is only written inside it, so a taken slug costs no read.
    if sa.inspect(post).persistent and _slug_taken(session, base, exclude=post.id):
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


def _replace_tags(session: Session, post: Post, names: list[str], *, new: bool = False) -> None:
    """Link the post to the named tags in order; ``new``: it has no links yet. The post's
    ``tags`` are then these, without reading them back."""
    if not new:
        session.execute(sa.delete(PostTag).where(col(PostTag.post_id) == post.id))
    ids = _upsert_tags(session, names) if names else {}
    set_committed_value(
        post, "tags", [Tag(tenant_id=post.tenant_id, id=ids[name], name=name) for name in names]
    )
    if not names:
        return
    session.execute(
        sa.insert(PostTag),
        [
            {"tenant_id": post.tenant_id, "post_id": post.id, "tag_id": ids[name], "position": i}
            for i, name in enumerate(names)
        ],
    )


def _check_schedule(post: Post) -> None:
    """A scheduled post has a time to come; no other status is given one by a client."""
    if post.status == PostStatus.scheduled and (
        post.published_at is None or post.published_at <= utcnow()
    ):
        raise InvalidSchedule()


def _revisions_kept(keep: int | None) -> int:
    return get_settings().revisions_per_post if keep is None else keep


def create_post(
    session: Session, *, author: User, data: PostCreate, keep_revisions: int | None = None
) -> Post:
    """Write a post (and its tags) as ``author``, with its first revision; all or nothing.
    A scheduled post is published by a job at its ``published_at``. ``keep_revisions``:
    the setting's number unless given."""
    now = utcnow()
    if data.published_at is not None and data.status != PostStatus.scheduled:
        raise InvalidSchedule()
    post = Post(
        tenant_id=author.tenant_id,
        author_id=author.id,
        title=data.title,
        slug="",
        description=data.description,
        body=data.body,
        search_tags=" ".join(data.tags),
        status=data.status,
        published_at=now if data.status == PostStatus.published else data.published_at,
        created_at=now,
        updated_at=now,
    )
    _check_schedule(post)
    _save_with_unique_slug(session, post)
    _replace_tags(session, post, data.tags, new=True)
    if post.status == PostStatus.scheduled:
        schedule_publication(session, post)
    set_committed_value(post, "author", author)
    history.record(session, post=post, author=author, keep=_revisions_kept(keep_revisions))
    if post.status == PostStatus.published:
        emit(session, post.tenant_id, Event.post_published, post_data(post))
    return post


def update_post(
    session: Session,
    *,
    post: Post,
    editor: User,
    data: PostUpdate,
    slug_follows_published_title: bool = False,
    keep_revisions: int | None = None,
) -> Post:
    """Partial update. A slug follows the title only until the post is first published
    (links stay valid), unless ``slug_follows_published_title`` (the RealWorld rule).
    Scheduling, rescheduling and unscheduling (to draft, or published at once) work
    until the scheduled time. A change of title, description, body or tags keeps a
    revision; any save clears the editor's autosave."""
    before = history.content_of(post)
    changes = data.model_dump(exclude_unset=True)
    tags: list[str] | None = changes.pop("tags", None)
    if tags is not None:
        changes["search_tags"] = " ".join(tags)
    slug_follows_title = (
        post.published_at is None
        or post.status == PostStatus.scheduled
        or slug_follows_published_title
    ) and changes.get("title", post.title) != post.title
    was = (post.status, post.published_at)
    _change_status(post, changes)
    post.sqlmodel_update(changes)
    post.updated_at = utcnow()
    if slug_follows_title:
        _save_with_unique_slug(session, post)
    else:
        session.add(post)
        session.flush()
    if tags is not None:
        _replace_tags(session, post, tags)
    if post.status == PostStatus.scheduled and (post.status, post.published_at) != was:
        schedule_publication(session, post)
    updated = get_post(session, viewer=editor, post_id=post.id)
    if history.content_of(updated) != before:
        keep = _revisions_kept(keep_revisions)
        history.record(session, post=updated, author=editor, keep=keep)
    history.clear_autosave(session, post=updated, user=editor)
    _emit_change(session, updated, was_published=was[0] == PostStatus.published)
    return updated


def _emit_change(session: Session, post: Post, *, was_published: bool) -> None:
    """Tell webhooks what changed for readers: a post published, changed while
    published, or taken back to a draft (changes to drafts are nobody's news yet)."""
    published = post.status == PostStatus.published
    if published:
        event = Event.post_updated if was_published else Event.post_published
    elif was_published:
        event = Event.post_unpublished
    else:
        return
    emit(session, post.tenant_id, event, post_data(post))


def _change_status(post: Post, changes: dict[str, Any]) -> None:
    """Apply ``changes``' status and ``published_at`` to ``post`` (removing them from
    ``changes``): a publication time is set by publishing, or given when scheduling."""
    status = changes.pop("status", post.status)
    published_at = changes.pop("published_at", None)
    if published_at is not None and status != PostStatus.scheduled:
        raise InvalidSchedule()
    if status == PostStatus.scheduled and post.status == PostStatus.published:
        raise AlreadyPublished()
    if status == PostStatus.scheduled:
        rescheduled = published_at is not None or post.status != PostStatus.scheduled
        post.published_at = published_at or (
            post.published_at if post.status == PostStatus.scheduled else None
        )
        post.status = status
        if rescheduled:  # (an unchanged schedule may be due already, its job on the way)
            _check_schedule(post)
        return
    if post.status == PostStatus.scheduled:
        # Unscheduled: published now, or back to a draft that was never published.
        post.published_at = utcnow() if status == PostStatus.published else None
    elif status == PostStatus.published and post.published_at is None:
        post.published_at = utcnow()
    post.status = status


def delete_post(session: Session, *, post: Post) -> None:
    """Remove a post; its comments and tag links go with it (database cascade)."""
    session.execute(sa.delete(Post).where(col(Post.id) == post.id))
    if post.status == PostStatus.published:  # (a draft's end is nobody's news)
        emit(session, post.tenant_id, Event.post_deleted, post_ref(post))


def detach_author(session: Session, *, user: User) -> None:
    """Keep a departing user's posts (and others' comments on them) and the revisions
    they saved, authorless."""
    session.execute(
        sa.update(Post).where(col(Post.author_id) == user.id).values(author_id=None),
        execution_options={"synchronize_session": False},
    )
    history.detach_author(session, user=user)


def list_tags(session: Session, *, params: PageParams) -> tuple[Sequence[Any], int]:
    """Tags on published posts with their counts, most used first."""
    posts_count = sa.func.count(col(PostTag.post_id)).label("posts_count")
    query = (
        select(Tag.name, posts_count)
        .join(PostTag, tag_link())
        .join(Post, _links_post())
        .where(public_posts())
        .group_by(col(Tag.id), col(Tag.name))
        .order_by(posts_count.desc(), col(Tag.name))
    )
    return fetch_page(session, query, params, rows=True)


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
    set_committed_value(comment, "author", author)
    emit(session, post.tenant_id, Event.comment_created, comment_data(comment, post))
    return comment


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
    if post.status == PostStatus.published:  # (a draft's comments are nobody's news)
        emit(
            session,
            post.tenant_id,
            Event.comment_deleted,
            {"id": str(comment.id), "number": comment.number, "post": post_ref(post)},
        )


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


def favorites_of(session: Session, *, post: Post, viewer: User | None) -> tuple[int, bool]:
    """How many members favorited the post, and whether the viewer did."""
    count = session.scalar(
        select(sa.func.count()).select_from(Favorite).where(col(Favorite.post_id) == post.id)
    )
    mine = post.id in favorited_among(session, viewer=viewer, post_ids=[post.id])
    return count or 0, mine
