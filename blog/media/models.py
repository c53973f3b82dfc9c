"""The media table: one row per upload, with the storage keys of all its files."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped

ALT_MAX_LENGTH = 1000


class MediaPurpose(StrEnum):
    post = "post"  # an image in a post
    avatar = "avatar"  # a member's picture


class Media(TenantScoped, table=True):
    """One uploaded image. ``files`` lists every stored file (the original first, then
    the variants): ``{name, key, content_type, width, height, bytes}``; ``bytes`` is their
    total, which the blog's quota counts. ``sha256`` is the uploaded bytes' hash, the
    keys' middle part. ``uploaded_by`` is null once the uploader's account is deleted."""

    __tablename__ = "media"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "uploaded_by"], ["users.tenant_id", "users.id"]),
        sa.Index(None, "tenant_id", "created_at", "id"),
        sa.Index(None, "tenant_id", "sha256"),
        sa.Index(None, "tenant_id", "uploaded_by"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    uploaded_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    purpose: MediaPurpose = Field(
        default=MediaPurpose.post,
        sa_type=sa.Enum(
            MediaPurpose,
            name="media_purpose",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda purposes: [purpose.value for purpose in purposes],
        ),
    )
    content_type: str = Field(max_length=32)
    width: int
    height: int
    bytes: int = Field(sa_type=sa.BigInteger)
    alt: str = Field(default="", max_length=ALT_MAX_LENGTH)
    sha256: str = Field(max_length=64)
    files: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
