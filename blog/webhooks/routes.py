"""A blog's webhook endpoints and their delivery logs, for its admins and owners."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from blog.auth.dependencies import WebhooksManager
from blog.database import SessionDep
from blog.dependencies import SettingsDep
from blog.errors import responses
from blog.pagination import PAGE_HEADERS, PageDep, PageHeadersDep
from blog.tenants.dependencies import TenantDep
from blog.webhooks import service
from blog.webhooks.dependencies import PathDelivery, PathEndpoint
from blog.webhooks.models import DeliveryStatus
from blog.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    EndpointCreate,
    EndpointPage,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

# Kept by no cache: an answer holding a secret, and the delivery log (its attempts are
# not blog content: they move no version, see blog/cache/versions.py).
NO_STORE = "no-store"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 413, 422),
    summary="Register a webhook endpoint (admins); its secret is shown this once",
)
def create_endpoint(
    data: EndpointCreate,
    tenant: TenantDep,
    _admin: WebhooksManager,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> EndpointWithSecret:
    """The URL must be http(s) on a public address (422 `webhook_url_not_allowed` for
    loopback, private, link-local and other internal ones)."""
    endpoint = service.create_endpoint(
        session,
        tenant=tenant,
        data=data,
        allow_private=settings.webhooks_allow_private_addresses,
    )
    response.headers["Cache-Control"] = NO_STORE
    return EndpointWithSecret.model_validate(endpoint)


@router.get(
    "",
    responses=responses(401, 403) | PAGE_HEADERS,
    summary="The blog's webhook endpoints (admins)",
)
def list_endpoints(
    _admin: WebhooksManager, session: SessionDep, page: PageDep, headers: PageHeadersDep
) -> EndpointPage:
    items, total = service.list_endpoints(session, params=page)
    return headers(EndpointPage.of(items, total, page))


@router.get(
    "/{endpoint_id}", responses=responses(401, 403, 404), summary="A webhook endpoint (admins)"
)
def read_endpoint(endpoint: PathEndpoint) -> EndpointRead:
    return EndpointRead.model_validate(endpoint)


@router.patch(
    "/{endpoint_id}",
    responses=responses(400, 401, 403, 404, 413, 422),
    summary="Change an endpoint's URL, events, description or whether it is on (admins)",
)
def update_endpoint(
    endpoint: PathEndpoint, data: EndpointUpdate, session: SessionDep, settings: SettingsDep
) -> EndpointRead:
    updated = service.update_endpoint(
        session,
        endpoint=endpoint,
        data=data,
        allow_private=settings.webhooks_allow_private_addresses,
    )
    return EndpointRead.model_validate(updated)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404),
    summary="Remove an endpoint and its delivery log (admins)",
)
def delete_endpoint(endpoint: PathEndpoint, session: SessionDep) -> None:
    service.delete_endpoint(session, endpoint=endpoint)


@router.post(
    "/{endpoint_id}/rotate-secret",
    responses=responses(401, 403, 404),
    summary="Give an endpoint a new secret (admins); the old one still signs for 24 hours",
)
def rotate_secret(
    endpoint: PathEndpoint, session: SessionDep, response: Response
) -> EndpointWithSecret:
    """Until `previous_secret_expires_at` every delivery carries two signatures, one per
    secret, so receivers can switch to the new secret at their own pace."""
    rotated = service.rotate_secret(session, endpoint=endpoint)
    response.headers["Cache-Control"] = NO_STORE
    return EndpointWithSecret.model_validate(rotated)


@router.post(
    "/{endpoint_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404, 409),
    summary="Send the endpoint a `webhook.ping` event (admins)",
)
def ping(endpoint: PathEndpoint, session: SessionDep) -> DeliveryRead:
    return DeliveryRead.model_validate(service.ping(session, endpoint=endpoint))


@router.get(
    "/{endpoint_id}/deliveries",
    responses=responses(401, 403, 404) | PAGE_HEADERS,
    summary="An endpoint's deliveries, newest first (admins)",
)
def list_deliveries(
    endpoint: PathEndpoint,
    session: SessionDep,
    page: PageDep,
    headers: PageHeadersDep,
    response: Response,
    status: Annotated[DeliveryStatus | None, Query(description="Only these.")] = None,
) -> DeliveryPage:
    response.headers["Cache-Control"] = NO_STORE  # attempts move no blog version
    items, total = service.list_deliveries(session, endpoint=endpoint, params=page, status=status)
    return headers(DeliveryPage.of(items, total, page))


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    responses=responses(401, 403, 404),
    summary="A delivery, with its payload (admins)",
)
def read_delivery(delivery: PathDelivery, response: Response) -> DeliveryDetail:
    response.headers["Cache-Control"] = NO_STORE  # attempts move no blog version
    return DeliveryDetail.model_validate(delivery)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(401, 403, 404, 409),
    summary="Send a delivery again, with the same webhook-id (admins; 409 while pending)",
)
def replay_delivery(
    endpoint: PathEndpoint, delivery: PathDelivery, session: SessionDep
) -> DeliveryRead:
    return DeliveryRead.model_validate(
        service.replay(session, endpoint=endpoint, delivery=delivery)
    )
