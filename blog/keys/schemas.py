"""API shapes for keys. Only the answer to a creation holds the key itself; no shape
ever holds its hash."""

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from blog.keys.models import NAME_MAX_LENGTH, KeyKind, Scope
from blog.pagination import Page
from blog.schemas import InputModel, strip_text


class ApiKeyCreate(InputModel):
    kind: KeyKind
    name: Annotated[
        str,
        BeforeValidator(strip_text),
        Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["static site build"]),
    ]
    scopes: list[Scope] = Field(
        default_factory=list,
        max_length=len(Scope),
        description="Admin keys: at least one. Content keys: none (they only read what "
        "anyone may read).",
    )

    @model_validator(mode="after")
    def _scopes_fit_kind(self) -> Self:
        if self.kind == KeyKind.content and self.scopes:
            raise ValueError("content keys take no scopes")
        if self.kind == KeyKind.admin and not self.scopes:
            raise ValueError("admin keys need at least one scope")
        self.scopes = sorted(set(self.scopes))
        return self


class ApiKeyRead(BaseModel):
    """A key as listed: its public prefix, never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: KeyKind
    name: str
    prefix: str = Field(description="The key's public part, after `blog_ck_` or `blog_ak_`.")
    scopes: list[Scope]
    created_by: uuid.UUID | None = Field(description="Admin keys act as this member.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded at most once a minute.")
    revoked_at: datetime | None


class ApiKeyPage(Page[ApiKeyRead]):
    """A page of API keys (never a secret)."""


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The key, shown this once: send it as the `X-API-Key` header. Only "
        "its hash is stored."
    )
