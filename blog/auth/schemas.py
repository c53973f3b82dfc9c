"""API shapes for authentication."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from blog.auth.security import MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, check_password_bytes
from blog.schemas import InputModel, lower_text

Password = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        description=(
            f"At least {MIN_PASSWORD_LENGTH} characters and at most {MAX_PASSWORD_BYTES} "
            "bytes in UTF-8 (bcrypt's limit; longer passwords are refused, never truncated)."
        ),
        examples=["correct horse battery staple"],
    ),
    AfterValidator(check_password_bytes),
]


class LoginForm(BaseModel):
    """The OAuth2 password grant's form (`application/x-www-form-urlencoded`); its other
    fields (`scope`, `client_id`, `client_secret`) are accepted and ignored."""

    grant_type: Literal["password"] | None = None
    username: str = Field(description="The email or the username.")
    password: str = Field(json_schema_extra={"format": "password"})


class TokenPair(BaseModel):
    access_token: str = Field(description="JWT to send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        description=(
            "Opaque, single-use token for POST /auth/refresh; rotates on every use. Null "
            "when it was set as an httpOnly cookie instead (`?refresh_in=cookie`)."
        )
    )
    csrf_token: str | None = Field(
        default=None,
        description="With the refresh cookie only: send it as `X-CSRF-Token` to refresh.",
    )


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(InputModel):
    current_password: Annotated[str, AfterValidator(check_password_bytes)]
    new_password: Password


LinkToken = Annotated[
    str, Field(min_length=1, max_length=512, description="The `token` of the mailed link.")
]


class LinkUse(InputModel):
    """The token of a mailed link, posted back by the page the link opened."""

    token: LinkToken


class PasswordForgotten(InputModel):
    email: Annotated[EmailStr, BeforeValidator(lower_text)]


class PasswordReset(InputModel):
    token: LinkToken
    new_password: Password


class SessionRead(BaseModel):
    """One login of yours: a password login, kept alive by refreshing."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime = Field(description="When you logged in.")
    last_used_at: datetime = Field(description="The login or its last refresh.")
    user_agent: str | None
    current: bool = Field(default=False, description="The login this request's token is of.")
