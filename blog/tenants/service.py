"""Creating and finding tenants."""

from sqlmodel import Session, col, select

from blog.auth.security import PasswordHasher
from blog.tenancy import bind_tenant
from blog.tenants.exceptions import TenantNotFound, TenantSlugTaken
from blog.tenants.models import Tenant
from blog.tenants.schemas import TenantCreate, TenantUpdate
from blog.users import service as users_service
from blog.users.models import Role, User


def create_tenant(
    session: Session, *, hasher: PasswordHasher, data: TenantCreate
) -> tuple[Tenant, User]:
    """Create a blog and its first owner; the session is then bound to the new tenant."""
    if session.exec(select(Tenant.id).where(col(Tenant.slug) == data.slug)).first():
        raise TenantSlugTaken()
    tenant = Tenant(slug=data.slug, name=data.name)
    session.add(tenant)
    session.flush()
    bind_tenant(session, tenant.id)
    owner = users_service.create_user(
        session, tenant=tenant, hasher=hasher, data=data.owner, role=Role.owner
    )
    return tenant, owner


def get_by_slug(session: Session, *, slug: str) -> Tenant:
    tenant = session.exec(select(Tenant).where(col(Tenant.slug) == slug.lower())).first()
    if tenant is None:
        raise TenantNotFound()
    return tenant


def update_tenant(session: Session, *, tenant: Tenant, data: TenantUpdate) -> Tenant:
    tenant.sqlmodel_update(data.model_dump(exclude_unset=True, exclude_none=True))
    session.add(tenant)
    session.flush()
    return tenant
