"""A post's revisions (listed, read, restored) and its writers' autosaves.

Sessions are bound to the tenant; no query names tenant_id. Who may call these is
decided by the dependencies (the post's author or an editor); an autosave is seen only
by its writer and by editors.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from blog.database import utcnow
from blog.pagination import PageParams, fetch_page
from blog.posts import service as posts_service
from blog.posts.models import Post
from blog.posts.schemas import PostUpdate
from blog.revisions.exceptions import RevisionNotFound
from blog.revisions.models import PostAutosave, PostRevision
from blog.revisions.schemas import AutosaveWrite
from blog.users.models import Role, User

AUTOSAVED = ("title", "description", "body", "tags")


def list_revisions(
    session: Session, *, post: Post, params: PageParams
) -> tuple[Sequence[PostRevision], int]:
    """The post's revisions, newest first."""
    query = (
        select(PostRevision)
        .where(col(PostRevision.post_id) == post.id)
        .order_by(col(PostRevision.created_at).desc(), col(PostRevision.id).desc())
    )
    return fetch_page(session, query, params)


def get_revision(session: Session, *, post: Post, revision_id: uuid.UUID) -> PostRevision:
    revision = session.exec(
        select(PostRevision).where(
            col(PostRevision.post_id) == post.id, col(PostRevision.id) == revision_id
        )
    ).first()
    if revision is None:
        raise RevisionNotFound()
    return revision


def restore_revision(
    session: Session,
    *,
    post: Post,
    revision: PostRevision,
    editor: User,
    keep_revisions: int | None = None,
) -> Post:
    """Save the post with the revision's title, description, body and tags: a normal
    save (a new revision, the version bumped, webhooks told), status untouched."""
    data = PostUpdate(
        title=revision.title,
        description=revision.description,
        body=revision.body,
        tags=revision.tags,
    )
    return posts_service.update_post(
        session, post=post, editor=editor, data=data, keep_revisions=keep_revisions
    )


def save_autosave(session: Session, *, post: Post, user: User, data: AutosaveWrite) -> PostAutosave:
    """Replace the user's working copy of the post. Nothing readers see changes, so the
    blog's content version does not move (``post_autosaves`` is not content)."""
    values = {
        "tenant_id": post.tenant_id,
        "post_id": post.id,
        "user_id": user.id,
        **data.model_dump(include=set(AUTOSAVED)),
        "saved_at": utcnow(),
    }
    table = PostAutosave.__table__  # type: ignore[attr-defined]
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(values)
    # One row per (post, writer), safe against two autosaves racing.
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "post_id", "user_id"],
            set_={name: statement.excluded[name] for name in (*AUTOSAVED, "saved_at")},
        )
    )
    return PostAutosave.model_validate(values)


def list_autosaves(
    session: Session, *, post: Post, viewer: User, params: PageParams
) -> tuple[Sequence[PostAutosave], int]:
    """Working copies of the post the viewer may see: their own; an editor's, everyone's."""
    query = select(PostAutosave).where(col(PostAutosave.post_id) == post.id)
    if not viewer.role.at_least(Role.editor):
        query = query.where(col(PostAutosave.user_id) == viewer.id)
    order = (col(PostAutosave.saved_at).desc(), col(PostAutosave.user_id))
    return fetch_page(session, query.order_by(*order), params)


def newer_autosave(session: Session, *, post: Post, user: User) -> PostAutosave | None:
    """The user's working copy of the post, if saved after the post last was."""
    return session.exec(
        select(PostAutosave).where(
            col(PostAutosave.post_id) == post.id,
            col(PostAutosave.user_id) == user.id,
            col(PostAutosave.saved_at) > post.updated_at,
        )
    ).first()
