"""Dependencies that load an endpoint or delivery *after* checking the caller is an admin."""

import uuid
from typing import Annotated

from fastapi import Depends, Path

from blog.auth.dependencies import WebhooksManager
from blog.database import SessionDep, lookup
from blog.schemas import NoNul
from blog.webhooks import service
from blog.webhooks.models import DELIVERY_ID_MAX_LENGTH, WebhookDelivery, WebhookEndpoint


async def get_endpoint(
    _admin: WebhooksManager, endpoint_id: uuid.UUID, session: SessionDep
) -> WebhookEndpoint:
    """The endpoint in the path, to an admin or owner of its blog (404 elsewhere)."""
    return await lookup(session, service.get_endpoint, endpoint_id=endpoint_id)


PathEndpoint = Annotated[WebhookEndpoint, Depends(get_endpoint)]


async def get_delivery(
    endpoint: PathEndpoint,
    delivery_id: Annotated[str, Path(max_length=DELIVERY_ID_MAX_LENGTH), NoNul],
    session: SessionDep,
) -> WebhookDelivery:
    return await lookup(session, service.get_delivery, endpoint=endpoint, delivery_id=delivery_id)


PathDelivery = Annotated[WebhookDelivery, Depends(get_delivery)]
