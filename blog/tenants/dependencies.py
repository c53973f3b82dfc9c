from typing import Annotated

from fastapi import Depends, Path
from sqlmodel import Session

from blog.database import SessionDep
from blog.dependencies import SettingsDep
from blog.schemas import NoNul
from blog.tenancy import bind_tenant
from blog.tenants import service
from blog.tenants.exceptions import TenantSignupClosed
from blog.tenants.models import SLUG_MAX_LENGTH, Tenant


def get_tenant(
    tenant: Annotated[
        str,
        Path(max_length=SLUG_MAX_LENGTH, description="The tenant's slug.", examples=["demo"]),
        NoNul,
    ],
    session: SessionDep,
) -> Tenant:
    """The tenant named in the path; binds the request's session to it."""
    return bind_tenant_by_slug(session, tenant)


def bind_tenant_by_slug(session: Session, slug: str) -> Tenant:
    """The tenant with this slug (404 otherwise), with ``session`` bound to it."""
    found = service.get_by_slug(session, slug=slug)
    bind_tenant(session, found.id)
    return found


async def require_tenant_signup(settings: SettingsDep) -> None:
    if not settings.allow_tenant_signup:
        raise TenantSignupClosed()


TenantDep = Annotated[Tenant, Depends(get_tenant)]
TenantSignupAllowed = Depends(require_tenant_signup)
