"""Posts, tags (with their ordered links to posts) and comments.

Relationships here are read-only and never lazy-load (``lazy="raise"``): rows are
written explicitly by the service, deletes cascade in the database, and anything a
response needs is loaded up front with ``selectinload``, so an N+1 query is an error,
not a slowdown.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Field, Relationship, col

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped

if TYPE_CHECKING:
    from blog.users.models import User

TITLE_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 500
BODY_MAX_LENGTH = 100_000
TAG_MAX_LENGTH = 50
MAX_TAGS_PER_POST = 10
COMMENT_MAX_LENGTH = 10_000


class PostStatus(StrEnum):
    draft = "draft"
    published = "published"
    scheduled = "scheduled"  # published by a job at ``published_at``; hidden until then


def _readonly(**kwargs: Any) -> dict[str, Any]:
    return {"viewonly": True, "lazy": "raise", **kwargs}


class Tag(TenantScoped, table=True):
    """A tag of one blog; names are trimmed and lower-cased."""

    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    name: str = Field(max_length=TAG_MAX_LENGTH)


class PostTag(TenantScoped, table=True):
    """Links a post to a tag; ``position`` keeps the post's tag order."""

    __tablename__ = "post_tags"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tag_id"], ["tags.tenant_id", "tags.id"], ondelete="CASCADE"
        ),
        sa.Index(None, "tenant_id", "tag_id", "post_id"),
    )

    post_id: uuid.UUID = Field(primary_key=True)
    tag_id: uuid.UUID = Field(primary_key=True)
    position: int


class Post(TenantScoped, table=True):
    """A blog post. ``author_id`` is null once its author's account is deleted."""

    __tablename__ = "posts"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "author_id"], ["users.tenant_id", "users.id"]),
        sa.UniqueConstraint("tenant_id", "slug"),
        # The public list: one tenant's published posts, newest first.
        sa.Index(None, "tenant_id", "status", "published_at", "id"),
        sa.Index(None, "tenant_id", "author_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    author_id: uuid.UUID | None = Field(default=None)
    title: str = Field(max_length=TITLE_MAX_LENGTH)
    slug: str = Field(max_length=SLUG_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    body: str = Field(sa_type=sa.Text)
    status: PostStatus = Field(
        default=PostStatus.draft,
        sa_type=sa.Enum(
            PostStatus,
            name="post_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
    )
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    search_tags: str = Field(
        default="",
        sa_type=sa.Text,
        sa_column_kwargs={"server_default": ""},
        description="The post's tag names, space-separated, for search (written with the links).",
    )
    last_comment_number: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="The number of the post's newest comment; numbers are never reused.",
    )

    author: "User" = Relationship(
        sa_relationship_kwargs=_readonly(
            primaryjoin="and_(Post.tenant_id == User.tenant_id, Post.author_id == User.id)",
            foreign_keys="[Post.tenant_id, Post.author_id]",
        )
    )
    tags: list[Tag] = Relationship(
        sa_relationship_kwargs=_readonly(
            secondary="post_tags",
            primaryjoin="and_(Post.tenant_id == PostTag.tenant_id, Post.id == PostTag.post_id)",
            secondaryjoin="and_(PostTag.tenant_id == Tag.tenant_id, PostTag.tag_id == Tag.id)",
            order_by="PostTag.position",
        )
    )

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


def public_posts() -> sa.ColumnElement[bool]:
    """The one rule of what anyone may read: published posts.

    A draft is never public; a scheduled post is hidden until its job publishes it, which
    sets the status once ``published_at`` has come (so a published post's time is never
    ahead of the clock, and the rule needs no clock of its own).
    """
    return col(Post.status) == PostStatus.published


class Comment(TenantScoped, table=True):
    """A comment on a post. Goes with its post, and with its author's account.

    ``number`` is a small per-post integer (the RealWorld API identifies comments by
    integers); it comes from ``Post.last_comment_number``, so a deleted comment's number
    is never given to another.
    """

    __tablename__ = "comments"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "author_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.Index(None, "tenant_id", "post_id", "created_at"),
        sa.Index(None, "tenant_id", "author_id"),
        sa.UniqueConstraint("tenant_id", "post_id", "number"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    post_id: uuid.UUID
    number: int = Field(description="1, 2, 3… within its post, in order of writing.")
    author_id: uuid.UUID
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    author: "User" = Relationship(
        sa_relationship_kwargs=_readonly(
            primaryjoin="and_(Comment.tenant_id == User.tenant_id, Comment.author_id == User.id)",
            foreign_keys="[Comment.tenant_id, Comment.author_id]",
        )
    )


class Favorite(TenantScoped, table=True):
    """A member's favorite post; goes with the post and with the member's account."""

    __tablename__ = "favorites"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"], ondelete="CASCADE"
        ),
        sa.Index(None, "tenant_id", "post_id"),
    )

    user_id: uuid.UUID = Field(primary_key=True)
    post_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
