"""Creating, finding and deleting tenants."""

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel, col, select

from blog.auth.security import PasswordHasher
from blog.posts import search
from blog.posts.models import Post
from blog.tenancy import bind_tenant, tenant_models
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


def adopt(session: Session, tenant: Tenant) -> Tenant:
    """A tenant row read elsewhere in this request, taken into ``session`` as persistent
    without reading it again."""
    make_transient_to_detached(tenant)
    return session.merge(tenant, load=False)


def update_tenant(session: Session, *, tenant: Tenant, data: TenantUpdate) -> Tenant:
    changes = data.model_dump(exclude_unset=True)
    language = tenant.search_language
    # Only the frontend URL may be cleared (back to the deployment's); null elsewhere keeps.
    tenant.sqlmodel_update(
        {key: value for key, value in changes.items() if value is not None or key == "frontend_url"}
    )
    session.add(tenant)
    session.flush()
    if tenant.search_language != language:
        search.reindex(session)
    return tenant


def row_counts(session: Session) -> dict[str, int]:
    """Rows per tenant-owned table (in foreign-key order), in the session's tenant."""
    models = {str(model.__tablename__): model for model in tenant_models()}
    return {
        table.name: session.exec(select(sa.func.count()).select_from(models[table.name])).one()
        for table in SQLModel.metadata.sorted_tables
        if table.name in models
    }


def list_with_counts(session: Session) -> list[tuple[Tenant, int, int]]:
    """Every blog with its numbers of users and posts, by slug (platform work: the session
    must be in ``cross_tenant``)."""

    def count(model: type[User] | type[Post]) -> sa.ScalarSelect[int]:
        return (
            select(sa.func.count())
            .where(col(model.tenant_id) == col(Tenant.id))
            .correlate(Tenant)
            .scalar_subquery()
        )

    rows = session.exec(select(Tenant, count(User), count(Post)).order_by(col(Tenant.slug)))
    return [(tenant, users, posts) for tenant, users, posts in rows]


def delete_tenant(session: Session, *, tenant: Tenant) -> dict[str, int]:
    """Delete a blog and everything in it; returns the rows removed, per table.

    The database does the removing: every tenant-owned table's foreign key to
    ``tenants`` cascades. The session is bound to the tenant, so the counts (and
    nothing else) cover exactly its rows.
    """
    bind_tenant(session, tenant.id)
    removed = {"tenants": 1, **row_counts(session)}
    session.delete(tenant)
    session.flush()
    return removed
