"""API shapes for users. No read model has a field that could hold a password hash."""

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    computed_field,
)
from pydantic_core import PydanticCustomError

from blog.auth.schemas import Password
from blog.auth.security import check_password_bytes
from blog.pagination import Page
from blog.schemas import InputModel, Omittable, lower_text, strip_text
from blog.users.models import (
    BIO_MAX_LENGTH,
    IMAGE_URL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    Role,
)

USERNAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"

Username = Annotated[
    str,
    Field(
        min_length=1,
        max_length=USERNAME_MAX_LENGTH,
        pattern=USERNAME_PATTERN,
        description="Letters, digits, '_', '.', '-'; unique per blog ignoring case.",
        examples=["jane_doe"],
    ),
    BeforeValidator(strip_text),
]
# Lower-cased before validation, so the length limit applies to the stored form.
Email = Annotated[EmailStr, BeforeValidator(lower_text), Field(examples=["jane@example.com"])]
Name = Annotated[str, BeforeValidator(strip_text), Field(max_length=NAME_MAX_LENGTH)]
Bio = Annotated[str, Field(max_length=BIO_MAX_LENGTH)]
HTTP_URL = re.compile(r"^https?://")


def _http_url(value: str) -> str:
    """Only web addresses (never ``javascript:``), refused in words a client can show."""
    if not HTTP_URL.match(value):
        raise PydanticCustomError("url_scheme", "must be an http(s) URL")
    return value


ImageUrl = Annotated[
    str,
    Field(max_length=IMAGE_URL_MAX_LENGTH, json_schema_extra={"pattern": HTTP_URL.pattern}),
    BeforeValidator(strip_text),
    AfterValidator(_http_url),
]


class UserCreate(InputModel):
    email: Email
    username: Username
    password: Password
    name: Name | None = None


class UserSelfUpdate(InputModel):
    """Fields a user may change on their own account; omitted fields are kept. The email
    address changes through ``POST /users/me/email`` and a confirmation link."""

    username: Omittable[Username] = None
    name: Name | None = None
    bio: Bio | None = None
    image: ImageUrl | None = None


class UserAdminUpdate(InputModel):
    """What an admin may change on another account."""

    role: Omittable[Role] = None
    is_active: Omittable[StrictBool] = None  # not 0, 1 or "yes": the schema says boolean


class UserPublic(BaseModel):
    """A public profile: what anyone may see (no email)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    name: str | None
    bio: str | None
    image: str | None
    role: Role
    created_at: datetime


class UserRead(UserPublic):
    """The account as its owner (or an admin) sees it."""

    email: str
    email_verified_at: datetime | None = Field(
        description="When the address was proven by a mailed link (null: not yet)."
    )
    is_active: bool
    locked_until: datetime | None = Field(
        description="Set while too many wrong passwords in a row lock the account."
    )
    updated_at: datetime

    @computed_field(description="Whether the address has been proven by a mailed link.")  # type: ignore[prop-decorator]
    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class UserPage(Page[UserRead]):
    """A page of accounts."""


class Profile(UserPublic):
    """A public profile, as the caller sees it."""

    following: bool = Field(default=False, description="Whether the caller follows this user.")


class EmailChange(InputModel):
    new_email: Email
    current_password: Annotated[str, AfterValidator(check_password_bytes)]
