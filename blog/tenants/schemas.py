"""API shapes for tenants."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from blog.schemas import InputModel, lower_text, strip_text
from blog.tenants.models import NAME_MAX_LENGTH, SLUG_MAX_LENGTH, SLUG_PATTERN
from blog.users.schemas import UserCreate, UserRead

TenantSlug = Annotated[
    str,
    Field(
        min_length=3,
        max_length=SLUG_MAX_LENGTH,
        pattern=SLUG_PATTERN,
        description="URL-safe: lower-case letters, digits and inner hyphens, 3-63 characters.",
        examples=["acme"],
    ),
    BeforeValidator(lower_text),
]
TenantName = Annotated[
    str,
    BeforeValidator(strip_text),
    Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Acme"]),
]


class TenantCreate(InputModel):
    slug: TenantSlug
    name: TenantName
    owner: UserCreate


class TenantUpdate(InputModel):
    name: TenantName | None = None
    registration_open: StrictBool | None = None  # not 0, 1 or "yes": the schema says boolean


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    registration_open: bool
    created_at: datetime


class TenantCreated(BaseModel):
    tenant: TenantPublic
    owner: UserRead
