"""Webhook endpoints (where a blog's events go) and deliveries (one event to one endpoint)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from blog.database import UTCDateTime, utcnow, uuid7
from blog.tenancy import TenantScoped
from blog.webhooks.signing import new_secret

URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 200
SECRET_MAX_LENGTH = 100
EVENT_MAX_LENGTH = 64
DELIVERY_ID_MAX_LENGTH = 40
ERROR_MAX_LENGTH = 200


class Event(StrEnum):
    """What an endpoint may subscribe to (``"*"``: all of them)."""

    post_published = "post.published"  # created published, draft→published, or by schedule
    post_updated = "post.updated"  # a published post changed and stays published
    post_unpublished = "post.unpublished"  # a published post went back to draft
    post_deleted = "post.deleted"
    comment_created = "comment.created"
    comment_deleted = "comment.deleted"
    member_created = "member.created"  # an account joined the blog
    member_deleted = "member.deleted"


ALL_EVENTS = "*"
PING = "webhook.ping"  # the test ping: sent to one endpoint, never subscribed to


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its first attempt or a retry
    delivered = "delivered"  # a 2xx answer
    failed = "failed"  # attempts used up (or the endpoint was switched off meanwhile)


class WebhookEndpoint(TenantScoped, table=True):
    """A URL of a blog's choosing that receives its events, signed with ``secret``.

    ``secret`` is ``whsec_`` + base64 of random bytes (Standard Webhooks); it is shown
    once, when made. During a rotation ``previous_secret`` keeps signing alongside it
    until ``previous_secret_expires_at``.
    """

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    url: str = Field(max_length=URL_MAX_LENGTH)
    description: str = Field(default="", max_length=DESCRIPTION_MAX_LENGTH)
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # (A default, so that whatever makes an endpoint without one, an import without
    # secrets, gives it a fresh one.)
    secret: str = Field(default_factory=new_secret, max_length=SECRET_MAX_LENGTH)
    previous_secret: str | None = Field(default=None, max_length=SECRET_MAX_LENGTH)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def wants(self, event: str) -> bool:
        return self.is_active and (ALL_EVENTS in self.events or event in self.events)


class WebhookDelivery(TenantScoped, table=True):
    """One event sent to one endpoint: its log. ``id`` (``msg_…``) is the Standard
    Webhooks ``webhook-id``, the same on every attempt and replay, so receivers can
    drop duplicates."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        # An endpoint's log, newest first.
        sa.Index(None, "tenant_id", "endpoint_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=DELIVERY_ID_MAX_LENGTH)
    endpoint_id: uuid.UUID
    event: str = Field(max_length=EVENT_MAX_LENGTH)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending,
        sa_type=sa.Enum(
            DeliveryStatus,
            name="webhook_delivery_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
    )
    attempts: int = Field(default=0)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=ERROR_MAX_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def new_delivery_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and a time-ordered uuid."""
    return f"msg_{uuid7().hex}"
