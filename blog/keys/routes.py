"""A blog's API keys: made, listed and revoked by its admins, with an access token (a
key never manages keys: a leaked one could otherwise outlive its revocation)."""

import uuid

from fastapi import APIRouter, Response, status

from blog.auth.dependencies import AdminUser
from blog.database import SessionDep
from blog.errors import responses
from blog.keys import service
from blog.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from blog.pagination import PAGE_HEADERS, PageDep, PageHeadersDep
from blog.tenants.dependencies import TenantDep

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 413),
    summary="Make an API key (admins); the key is shown in this answer only",
)
def create_key(
    data: ApiKeyCreate,
    admin: AdminUser,
    tenant: TenantDep,
    session: SessionDep,
    response: Response,
) -> ApiKeyCreated:
    """An admin key acts as you, within its scopes, while you remain an active admin."""
    key, text = service.create_key(session, tenant=tenant, creator=admin, data=data)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=text)


@router.get(
    "", responses=responses(401, 403) | PAGE_HEADERS, summary="The blog's API keys (admins)"
)
def list_keys(
    _admin: AdminUser, session: SessionDep, page: PageDep, headers: PageHeadersDep
) -> ApiKeyPage:
    keys, total = service.list_keys(session, params=page)
    return headers(ApiKeyPage.of(keys, total, page))


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403),
    summary="Revoke an API key (admins): its next call is a 401",
)
def revoke_key(key_id: uuid.UUID, _admin: AdminUser, session: SessionDep) -> None:
    service.revoke_key(session, key=service.find_key(session, key_id_or_prefix=str(key_id)))
