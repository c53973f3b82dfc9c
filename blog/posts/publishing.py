"""Scheduled publishing: a post with ``status=scheduled`` is published by a job at its
``published_at``.

Scheduling (or rescheduling) writes a job keyed by the post and its time, in the same
transaction: so scheduling twice for one time makes one job, and a job whose post was
since unscheduled, rescheduled, published or deleted finds nothing to do. Publishing is
one conditional UPDATE (still scheduled, time reached), committed with the job's
completion: a post is published exactly once, however many workers race for it.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from blog.jobs import JobContext, enqueue, handler
from blog.posts.listing import tag_link
from blog.posts.models import Post, PostStatus, PostTag, Tag
from blog.webhooks.events import emit, post_data
from blog.webhooks.models import Event

PUBLISH = "post.publish"


def schedule_publication(session: Session, post: Post) -> None:
    """Publish ``post`` at its ``published_at`` (once this transaction commits)."""
    if post.status != PostStatus.scheduled or post.published_at is None:
        raise ValueError("only a scheduled post, with its time, is scheduled")
    enqueue(
        session,
        PUBLISH,
        {"post_id": str(post.id)},
        run_at=post.published_at,
        key=f"{post.id}@{post.published_at.isoformat()}",
    )


def publish_due(session: Session, post_id: uuid.UUID, now: datetime) -> bool:
    """Publish the post if it is still scheduled and its time (by ``now``) has come;
    whether it was."""
    result = session.execute(
        sa.update(Post)
        .where(
            col(Post.id) == post_id,
            col(Post.status) == PostStatus.scheduled,
            col(Post.published_at) <= now,
        )
        .values(status=PostStatus.published, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    post = session.exec(
        select(Post)
        .options(joinedload(Post.author))  # type: ignore[arg-type]
        .where(col(Post.id) == post_id)
        .execution_options(populate_existing=True)
    ).one()
    tags = session.exec(
        select(Tag)
        .join(PostTag, tag_link())
        .where(col(PostTag.post_id) == post_id)
        .order_by(col(PostTag.position))
    ).all()
    set_committed_value(post, "tags", list(tags))
    emit(session, post.tenant_id, Event.post_published, post_data(post))
    return True


@handler(PUBLISH, attempts=10, backoff_seconds=5.0, max_backoff_seconds=600.0)
def publish_job(session: Session, job: JobContext) -> None:
    publish_due(session, uuid.UUID(str(job.payload["post_id"])), job.now)
