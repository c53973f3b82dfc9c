"""Managing a blog's webhook endpoints and reading (and replaying) their deliveries.

Sessions are bound to the blog: no query here names ``tenant_id``.
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.database import utcnow, uuid7
from blog.jobs import enqueue
from blog.pagination import PageParams, fetch_page
from blog.tenants.models import Tenant
from blog.webhooks import addresses, signing
from blog.webhooks.delivery import DELIVER
from blog.webhooks.events import deliver
from blog.webhooks.exceptions import (
    DeliveryNotFound,
    DeliveryPending,
    EndpointInactive,
    EndpointNotFound,
)
from blog.webhooks.models import (
    PING,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from blog.webhooks.schemas import EndpointCreate, EndpointUpdate

# How long a rotated-out secret keeps signing beside the new one.
ROTATION_OVERLAP = timedelta(hours=24)


def create_endpoint(
    session: Session, *, tenant: Tenant, data: EndpointCreate, allow_private: bool
) -> WebhookEndpoint:
    """Register an endpoint with a new secret; its URL must name a public address."""
    addresses.check_registration(data.url, allow_private=allow_private)
    endpoint = WebhookEndpoint(
        tenant_id=tenant.id,
        url=data.url,
        description=data.description,
        events=[str(event) for event in data.events],
        is_active=data.is_active,
        secret=signing.new_secret(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(
    session: Session, *, params: PageParams
) -> tuple[Sequence[WebhookEndpoint], int]:
    query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))
    return fetch_page(session, query, params)


def get_endpoint(session: Session, *, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.exec(
        select(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id)
    ).first()
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


def update_endpoint(
    session: Session, *, endpoint: WebhookEndpoint, data: EndpointUpdate, allow_private: bool
) -> WebhookEndpoint:
    """Partial update; a new URL is checked as on registration."""
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes:
        addresses.check_registration(changes["url"], allow_private=allow_private)
    if "events" in changes:
        changes["events"] = [str(event) for event in changes["events"]]
    endpoint.sqlmodel_update(changes)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    return endpoint


def delete_endpoint(session: Session, *, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its deliveries' log (their pending jobs then end quietly)."""
    session.execute(sa.delete(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint.id))


def rotate_secret(session: Session, *, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Give the endpoint a new secret; the current one keeps signing beside it for
    :data:`ROTATION_OVERLAP` (one rotated out earlier stops at once)."""
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret = signing.new_secret()
    endpoint.updated_at = now
    session.add(endpoint)
    session.flush()
    return endpoint


def list_deliveries(
    session: Session,
    *,
    endpoint: WebhookEndpoint,
    params: PageParams,
    status: DeliveryStatus | None = None,
) -> tuple[Sequence[WebhookDelivery], int]:
    """The endpoint's deliveries, newest first."""
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.endpoint_id) == endpoint.id)
        .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
    )
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    return fetch_page(session, query, params)


def get_delivery(
    session: Session, *, endpoint: WebhookEndpoint, delivery_id: str
) -> WebhookDelivery:
    delivery = session.exec(
        select(WebhookDelivery).where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.id) == delivery_id,
        )
    ).first()
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


def replay(
    session: Session, *, endpoint: WebhookEndpoint, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send a settled delivery again, as it was (the same ``webhook-id`` and payload),
    with a fresh round of attempts; 409 while it is still pending."""
    if not endpoint.is_active:
        raise EndpointInactive()
    reopened = session.execute(
        sa.update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == delivery.id,
            col(WebhookDelivery.status) != DeliveryStatus.pending,
        )
        .values(status=DeliveryStatus.pending, delivered_at=None),
        execution_options={"synchronize_session": False},
    )
    if reopened.rowcount != 1:  # type: ignore[attr-defined]
        raise DeliveryPending()
    # (Reopening it is what admits one replay at a time: the key only names the job.)
    enqueue(session, DELIVER, {"delivery_id": delivery.id}, key=f"{delivery.id}/{uuid7()}")
    session.refresh(delivery)
    return delivery


def ping(session: Session, *, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send the endpoint a ``webhook.ping`` (logged like any delivery)."""
    if not endpoint.is_active:
        raise EndpointInactive()
    return deliver(session, endpoint, PING, {"endpoint_id": str(endpoint.id)})
