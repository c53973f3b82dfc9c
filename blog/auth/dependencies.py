"""Who is calling: ``CurrentUser`` and role-checking aliases such as ``AdminUser``."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from blog.auth import service
from blog.auth.exceptions import InvalidAccessToken
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep
from blog.tenants.dependencies import TenantDep
from blog.users.exceptions import RoleForbidden
from blog.users.models import Role, User

bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "An access token from `POST /api/v1/tenants/{tenant}/auth/token`, "
        "valid only under that tenant's paths."
    ),
)


def get_current_user(
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None:
        raise InvalidAccessToken("Not authenticated: send `Authorization: Bearer <token>`.")
    return service.authenticate(session, auth=auth, tenant=tenant, token=credentials.credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_optional_user(
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User | None:
    """The caller when a token is sent (an invalid one is still a 401), else None."""
    if credentials is None:
        return None
    return service.authenticate(session, auth=auth, tenant=tenant, token=credentials.credentials)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_role(minimum: Role) -> Callable[[User], User]:
    """A dependency admitting the current user only with ``minimum`` role or stronger."""

    def dependency(user: CurrentUser) -> User:
        if not user.role.at_least(minimum):
            raise RoleForbidden()
        return user

    return dependency


AdminUser = Annotated[User, Depends(require_role(Role.admin))]
AuthorUser = Annotated[User, Depends(require_role(Role.author))]
