"""What every save of a post leaves behind: a revision (capped per post), and no autosave
of the saver. Called by :mod:`blog.posts.service` in the save's own transaction."""

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.database import utcnow
from blog.posts.models import Post
from blog.revisions.models import PostAutosave, PostRevision
from blog.users.models import User

Content = tuple[str, str, str, tuple[str, ...]]


def content_of(post: Post) -> Content:
    """What a revision keeps of a post: title, description, body and tags (loaded)."""
    return post.title, post.description, post.body, tuple(post.tag_names)


def record(session: Session, *, post: Post, author: User, keep: int) -> PostRevision:
    """Keep the post as saved now (its tags loaded) as its newest revision, and delete
    all but the newest ``keep``."""
    revision = PostRevision(
        tenant_id=post.tenant_id,
        post_id=post.id,
        author_id=author.id,
        title=post.title,
        description=post.description,
        body=post.body,
        tags=post.tag_names,
        created_at=utcnow(),
    )
    session.add(revision)
    session.flush()
    _prune(session, post=post, keep=keep)
    return revision


def _prune(session: Session, *, post: Post, keep: int) -> None:
    # Only a post with more than ``keep`` revisions has any past the newest ``keep``; the
    # subquery reads at most that many rows of the post's index.
    newest = (
        select(PostRevision.id)
        .where(col(PostRevision.post_id) == post.id)
        .order_by(col(PostRevision.created_at).desc(), col(PostRevision.id).desc())
        .limit(keep)
    )
    session.execute(
        sa.delete(PostRevision).where(
            col(PostRevision.post_id) == post.id,
            col(PostRevision.id).not_in(select(newest.subquery().c.id)),
        ),
        execution_options={"synchronize_session": False},
    )


def clear_autosave(session: Session, *, post: Post, user: User) -> None:
    """The saver's working copy is what they just saved: it goes."""
    session.execute(
        sa.delete(PostAutosave).where(
            col(PostAutosave.post_id) == post.id, col(PostAutosave.user_id) == user.id
        ),
        execution_options={"synchronize_session": False},
    )


def detach_author(session: Session, *, user: User) -> None:
    """A departing user's revisions stay in their posts' history, with no saver."""
    session.execute(
        sa.update(PostRevision)
        .where(col(PostRevision.author_id) == user.id)
        .values(author_id=None),
        execution_options={"synchronize_session": False},
    )
