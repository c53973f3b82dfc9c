"""The users table: accounts belong to exactly one tenant."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Field, Relationship

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped

if TYPE_CHECKING:
    from blog.posts.models import Post

EMAIL_MAX_LENGTH = 254
USERNAME_MAX_LENGTH = 32
NAME_MAX_LENGTH = 100
BIO_MAX_LENGTH = 2000
IMAGE_URL_MAX_LENGTH = 2000


class Role(StrEnum):
    """Per-tenant roles, strongest first."""

    owner = "owner"
    admin = "admin"
    editor = "editor"
    author = "author"
    reader = "reader"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANKS = {role: len(Role) - index for index, role in enumerate(Role)}


class User(TenantScoped, table=True):
    """An account in one tenant. Email and username are unique per tenant, ignoring case."""

    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email"),
        sa.UniqueConstraint("tenant_id", "username_key"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX_LENGTH, description="Stored lower-cased.")
    username: str = Field(max_length=USERNAME_MAX_LENGTH)
    username_key: str = Field(
        max_length=USERNAME_MAX_LENGTH, description="Lower-cased username, for uniqueness."
    )
    name: str | None = Field(default=None, max_length=NAME_MAX_LENGTH)
    bio: str | None = Field(default=None, max_length=BIO_MAX_LENGTH)
    image: str | None = Field(default=None, max_length=IMAGE_URL_MAX_LENGTH)
    role: Role = Field(
        default=Role.author,
        sa_type=sa.Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        ),
    )
    is_active: bool = Field(default=True)
    hashed_password: str = Field(max_length=255)
    email_verified_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="When the address was last proven."
    )
    failed_logins: int = Field(
        default=0,
        description="Wrong passwords in a row.",
        sa_column_kwargs={"server_default": "0"},
    )
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    token_generation: int = Field(
        default=0,
        description="Carried in every access token; bumping it ends them all at once.",
        sa_column_kwargs={"server_default": "0"},
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Read-only, never lazy: load with selectinload(User.posts) where a response needs it.
    posts: list["Post"] = Relationship(
        sa_relationship_kwargs={
            "viewonly": True,
            "lazy": "raise",
            "primaryjoin": "and_(User.tenant_id == Post.tenant_id, User.id == Post.author_id)",
            "foreign_keys": "[Post.tenant_id, Post.author_id]",
            "order_by": "desc(func.coalesce(Post.published_at, Post.created_at))",
        }
    )


class Follow(TenantScoped, table=True):
    """``follower`` follows ``followed``, both of one blog; their posts fill the feed."""

    __tablename__ = "follows"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "follower_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "followed_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("follower_id <> followed_id", name="not_self"),
        sa.Index(None, "tenant_id", "followed_id"),
    )

    follower_id: uuid.UUID = Field(primary_key=True)
    followed_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
