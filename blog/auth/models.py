"""Refresh tokens, stored only as hashes, grouped in families (one per login)."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped


class RefreshToken(TenantScoped, table=True):
    """One issued refresh token. Each works once; reuse revokes its whole family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.UniqueConstraint("tenant_id", "token_hash"),
        sa.Index(None, "tenant_id", "family_id"),
        sa.Index(None, "tenant_id", "user_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    user_id: uuid.UUID
    family_id: uuid.UUID = Field(description="Shared by every token of one login.")
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
