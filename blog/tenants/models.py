"""The tenants table: one row per blog hosted by this deployment."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from blog.database import UTCDateTime, utcnow, uuid7

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG_MAX_LENGTH = 63
NAME_MAX_LENGTH = 100
FRONTEND_URL_MAX_LENGTH = 2000
DEFAULT_LOCKOUT_THRESHOLD = 5
SEARCH_LANGUAGE_MAX_LENGTH = 32


class Tenant(SQLModel, table=True):
    """A blog. Not tenant-owned itself: it is what everything else is owned by."""

    __tablename__ = "tenants"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    slug: str = Field(max_length=SLUG_MAX_LENGTH, unique=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    registration_open: bool = Field(default=True)
    require_verified_email: bool = Field(
        default=False,
        description="Members write (posts, comments) only once verified.",
        sa_column_kwargs={"server_default": sa.false()},
    )
    lockout_threshold: int = Field(
        default=DEFAULT_LOCKOUT_THRESHOLD,
        description="Wrong passwords in a row that lock an account (0: never).",
        sa_column_kwargs={"server_default": str(DEFAULT_LOCKOUT_THRESHOLD)},
    )
    frontend_url: str | None = Field(
        default=None,
        max_length=FRONTEND_URL_MAX_LENGTH,
        description="Where this blog's mailed links point (default: BLOG_FRONTEND_URL).",
    )
    search_language: str = Field(
        default="english",
        max_length=SEARCH_LANGUAGE_MAX_LENGTH,
        description="The stemming of the blog's search: a PostgreSQL text search configuration.",
        sa_column_kwargs={"server_default": "english"},
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
