"""A post's history (revisions) and its writers' working copies (autosaves).

Both go with their post (database cascade). A revision keeps its saver's id until that
account is deleted, as a post keeps its author's; an autosave goes with its writer.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.posts.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from blog.tenancy import TenantScoped


class PostRevision(TenantScoped, table=True):
    """A post's title, description, body and tags as one save left them."""

    __tablename__ = "post_revisions"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["tenant_id", "author_id"], ["users.tenant_id", "users.id"]),
        # A post's history, newest first (and its pruning).
        sa.Index(None, "tenant_id", "post_id", "created_at", "id"),
        sa.Index(None, "tenant_id", "author_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    post_id: uuid.UUID
    author_id: uuid.UUID | None = Field(
        default=None, description="Who saved it; null once that account is deleted."
    )
    title: str = Field(max_length=TITLE_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    body: str = Field(sa_type=sa.Text)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PostAutosave(TenantScoped, table=True):
    """One writer's unsaved working copy of a post: the fields they have touched (null:
    as saved). Never content: readers see the post, not this."""

    __tablename__ = "post_autosaves"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.Index(None, "tenant_id", "user_id"),
    )

    post_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)
    body: str | None = Field(default=None, sa_type=sa.Text)
    tags: list[str] | None = Field(default=None, sa_type=sa.JSON)
    saved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
