"""API shapes for tenants."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from blog.posts.search import SearchLanguage
from blog.schemas import InputModel, lower_text, strip_text
from blog.tenants.models import (
    FRONTEND_URL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
)
from blog.users.schemas import UserCreate, UserRead

MAX_LOCKOUT_THRESHOLD = 100

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


FrontendUrl = Annotated[
    str,
    BeforeValidator(strip_text),
    Field(
        max_length=FRONTEND_URL_MAX_LENGTH,
        pattern=r"^https?://[^\s?#]+$",
        description=(
            "Where this blog's mailed links point, e.g. `https://acme.example`: links open "
            "`{url}/verify-email?token=…`, `/reset-password`, `/confirm-email`. "
            "`{tenant}` is replaced by the slug. Null: the deployment's BLOG_FRONTEND_URL."
        ),
        examples=["https://acme.example"],
    ),
]


class TenantUpdate(InputModel):
    name: TenantName | None = None
    # StrictBool: not 0, 1 or "yes": the schema says boolean.
    registration_open: StrictBool | None = None
    require_verified_email: StrictBool | None = Field(
        default=None, description="Members may write posts and comments only once verified."
    )
    lockout_threshold: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_LOCKOUT_THRESHOLD,
        description="Wrong passwords in a row that lock an account (0: never).",
    )
    frontend_url: FrontendUrl | None = None
    search_language: SearchLanguage | None = Field(
        default=None,
        description="The stemming of the blog's search (PostgreSQL; SQLite stems English "
        "for every blog). Changing it re-indexes the blog's posts.",
    )


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    registration_open: bool
    require_verified_email: bool
    created_at: datetime


class TenantRead(TenantPublic):
    """A blog with its account settings, as its admins see it."""

    lockout_threshold: int
    frontend_url: str | None
    search_language: str


class TenantCreated(BaseModel):
    tenant: TenantPublic
    owner: UserRead
