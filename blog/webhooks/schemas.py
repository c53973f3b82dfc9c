"""API shapes of webhook endpoints and their deliveries. No read model holds a secret but
the two that hand one out once (on creation and rotation)."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from blog.pagination import Page
from blog.schemas import InputModel, Omittable, strip_text
from blog.webhooks.models import (
    DESCRIPTION_MAX_LENGTH,
    URL_MAX_LENGTH,
    DeliveryStatus,
    Event,
)

EventName = Event | Literal["*"]


def _drop_repeats(events: list[EventName]) -> list[EventName]:
    return list(dict.fromkeys(events))


Url = Annotated[
    str,
    BeforeValidator(strip_text),
    Field(
        min_length=1,
        max_length=URL_MAX_LENGTH,
        description="http:// or https://, on a public address (no user name or password).",
        examples=["https://hooks.example.com/blog"],
    ),
]
Events = Annotated[
    list[EventName],
    Field(
        min_length=1,
        max_length=len(Event) + 1,
        description='The events to receive; `"*"`: all of them, present and future.',
        examples=[["post.published", "comment.created"]],
    ),
    AfterValidator(_drop_repeats),
]
Description = Annotated[str, BeforeValidator(strip_text), Field(max_length=DESCRIPTION_MAX_LENGTH)]


class EndpointCreate(InputModel):
    url: Url
    events: Events
    description: Description = ""
    is_active: StrictBool = True  # not 0, 1 or "yes": the schema says boolean


class EndpointUpdate(InputModel):
    url: Omittable[Url] = None
    events: Omittable[Events] = None
    description: Omittable[Description] = None
    is_active: Omittable[StrictBool] = None


class EndpointRead(BaseModel):
    """An endpoint, without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        description="While a rotated-out secret still signs (beside the new one)."
    )


class EndpointPage(Page[EndpointRead]):
    """A page of webhook endpoints."""


class EndpointWithSecret(EndpointRead):
    """An endpoint and its secret: answered once, when made or rotated; keep it."""

    secret: str = Field(
        description="`whsec_` + base64: verify deliveries with it (Standard Webhooks)."
    )


class DeliveryRead(BaseModel):
    """One event sent to one endpoint: its log."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The `webhook-id` of every attempt, replays included.")
    endpoint_id: uuid.UUID
    event: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryPage(Page[DeliveryRead]):
    """A page of an endpoint's delivery log."""


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any] = Field(description="The body sent, as JSON.")
