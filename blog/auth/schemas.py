"""API shapes for authentication."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from blog.auth.security import MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH, check_password_bytes
from blog.schemas import InputModel

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


class TokenPair(BaseModel):
    access_token: str = Field(description="JWT to send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Opaque, single-use token for POST /auth/refresh; rotates on every use."
    )


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChange(InputModel):
    current_password: Annotated[str, AfterValidator(check_password_bytes)]
    new_password: Password
