from typing import Annotated

from fastapi import Depends, Path, Request
from sqlmodel import Session

from blog.cache.versions import FOUND_TENANT
from blog.database import SessionDep, lookup
from blog.dependencies import SettingsDep
from blog.observability.context import note_tenant
from blog.schemas import NoNul
from blog.tenancy import bind_tenant
from blog.tenants import service
from blog.tenants.exceptions import TenantSignupClosed
from blog.tenants.models import SLUG_MAX_LENGTH, Tenant


async def get_tenant(
    request: Request,
    tenant: Annotated[
        str,
        Path(max_length=SLUG_MAX_LENGTH, description="The tenant's slug.", examples=["demo"]),
        NoNul,
    ],
    session: SessionDep,
) -> Tenant:
    """The tenant named in the path; binds the request's session to it."""
    return await bind_tenant_by_slug(request, session, tenant)


async def bind_tenant_by_slug(request: Request, session: Session, slug: str) -> Tenant:
    """The tenant with this slug (404 otherwise), with ``session`` bound to it.

    The response cache looked the blog up already for most requests: its row is taken
    into the session as it was read (no query, no hop to a thread); otherwise it is read.
    """
    found = request.scope.get("state", {}).get(FOUND_TENANT)
    if found is not None and found.row["slug"] == slug.lower():
        tenant = service.adopt(session, Tenant(**found.row))
    else:
        tenant = await lookup(session, service.get_by_slug, slug=slug)
    bind_tenant(session, tenant.id)
    note_tenant(tenant.slug)
    return tenant


async def require_tenant_signup(settings: SettingsDep) -> None:
    if not settings.allow_tenant_signup:
        raise TenantSignupClosed()


TenantDep = Annotated[Tenant, Depends(get_tenant)]
TenantSignupAllowed = Depends(require_tenant_signup)
