"""Logins (sessions) and their refresh tokens, and single-use links sent by mail; every
secret is stored only as a hash."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped
from blog.users.models import EMAIL_MAX_LENGTH

USER_AGENT_MAX_LENGTH = 255


class AuthSession(TenantScoped, table=True):
    """One login: made by a password login, kept alive by refreshes, ended by logout."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.Index(None, "tenant_id", "user_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    user_id: uuid.UUID
    user_agent: str | None = Field(default=None, max_length=USER_AGENT_MAX_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshToken(TenantScoped, table=True):
    """One issued refresh token. Each works once; reuse ends its whole login."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "family_id"],
            ["auth_sessions.tenant_id", "auth_sessions.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tenant_id", "token_hash"),
        sa.Index(None, "tenant_id", "family_id"),
        sa.Index(None, "tenant_id", "user_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    user_id: uuid.UUID
    family_id: uuid.UUID = Field(description="The login (auth_sessions.id) it belongs to.")
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LinkPurpose(StrEnum):
    """What a mailed link proves or allows."""

    verify_email = "verify_email"
    reset_password = "reset_password"  # noqa: S105 - a purpose, not a secret
    change_email = "change_email"


class AccountToken(TenantScoped, table=True):
    """A single-use token mailed in a link; ``email`` is the address it was sent to (for
    an email change, the new address), so a link proves only that address."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        sa.UniqueConstraint("tenant_id", "token_hash"),
        sa.Index(None, "tenant_id", "user_id", "purpose"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    user_id: uuid.UUID
    purpose: LinkPurpose = Field(
        sa_type=sa.Enum(
            LinkPurpose,
            name="link_purpose",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda purposes: [purpose.value for purpose in purposes],
        )
    )
    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
