"""The api_keys table: a blog's API keys, stored only as a hash."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped

NAME_MAX_LENGTH = 100
PREFIX_LENGTH = 12


class KeyKind(StrEnum):
    content = "content"  # reads what an anonymous reader sees; safe in a browser
    admin = "admin"  # acts as its creator (an admin or owner), within its scopes


class Scope(StrEnum):
    """What an admin key may do. A route accepts a key only if it declares one of these
    (``require_role(..., scope=Scope.posts_write)``); keys never manage keys."""

    posts_read = "posts:read"  # drafts and scheduled posts too
    posts_write = "posts:write"
    comments_moderate = "comments:moderate"
    members_read = "members:read"
    webhooks_manage = "webhooks:manage"


class ApiKey(TenantScoped, table=True):
    """One key of one blog. ``prefix`` is the public part a key is looked up by;
    ``secret_hash`` the SHA-256 of the whole key (keys are random, so a fast hash is
    enough). ``created_by`` is null once its creator's account is deleted (an admin
    key then stops working)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "created_by"], ["users.tenant_id", "users.id"]),
        sa.UniqueConstraint("tenant_id", "prefix"),
        sa.Index(None, "tenant_id", "created_by"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    kind: KeyKind = Field(
        sa_type=sa.Enum(
            KeyKind,
            name="api_key_kind",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda kinds: [kind.value for kind in kinds],
        )
    )
    name: str = Field(max_length=NAME_MAX_LENGTH)
    prefix: str = Field(max_length=PREFIX_LENGTH)
    secret_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_by: uuid.UUID | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
