"""Platform routes: creating a tenant and reading its public info."""

from fastapi import APIRouter, status

from blog.auth import links
from blog.auth.dependencies import PASSWORD_WORK, AdminUser, SignupLimit
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep
from blog.errors import responses
from blog.keys.dependencies import KeyCallerDep
from blog.tenants import service
from blog.tenants.dependencies import TenantDep, TenantSignupAllowed
from blog.tenants.models import Tenant
from blog.tenants.schemas import (
    TenantCreate,
    TenantCreated,
    TenantPublic,
    TenantRead,
    TenantUpdate,
)
from blog.users.schemas import UserRead

router = APIRouter(prefix="/api/v1/tenants", tags=["tenants"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[TenantSignupAllowed, SignupLimit, PASSWORD_WORK],
    responses=responses(400, 403, 409, 413, 422, 429),
    summary="Create a blog with its first owner",
)
def create_tenant(data: TenantCreate, session: SessionDep, auth: AuthConfigDep) -> TenantCreated:
    """The owner is mailed a link to verify their address."""
    tenant, owner = service.create_tenant(session, hasher=auth.hasher, data=data)
    links.send_verification(session, auth=auth, tenant=tenant, user=owner)
    return TenantCreated(
        tenant=TenantPublic.model_validate(tenant), owner=UserRead.model_validate(owner)
    )


@router.get("/{tenant}", responses=responses(401, 404, 422), summary="A blog's public info")
def read_tenant(tenant: TenantDep, _key: KeyCallerDep) -> TenantPublic:
    return TenantPublic.model_validate(tenant)


@router.patch(
    "/{tenant}",
    responses=responses(400, 401, 403, 404, 413, 422),
    summary="Change a blog's name, registration or account settings (admins)",
)
def update_tenant(
    tenant: TenantDep, _admin: AdminUser, data: TenantUpdate, session: SessionDep
) -> TenantRead:
    updated: Tenant = service.update_tenant(session, tenant=tenant, data=data)
    return TenantRead.model_validate(updated)
