"""The tenants table: one row per blog hosted by this deployment."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from blog.database import UTCDateTime, utcnow, uuid7

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG_MAX_LENGTH = 63
NAME_MAX_LENGTH = 100


class Tenant(SQLModel, table=True):
    """A blog. Not tenant-owned itself: it is what everything else is owned by."""

    __tablename__ = "tenants"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    slug: str = Field(max_length=SLUG_MAX_LENGTH, unique=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    registration_open: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
