"""Who is calling (``CurrentUser``, ``AdminUser``, …), and the limits on proving it."""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordRequestForm

from blog.auth import service
from blog.auth.exceptions import InvalidAccessToken
from blog.auth.schemas import PasswordForgotten
from blog.database import SessionDep, lookup
from blog.dependencies import AuthConfigDep, SettingsDep
from blog.ratelimit import Limit, RateLimiter, RateLimiterDep, client_address
from blog.settings import Settings
from blog.tenants.dependencies import TenantDep
from blog.tenants.models import Tenant
from blog.users.exceptions import RoleForbidden
from blog.users.models import Role, User

bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "An access token from `POST /api/v1/tenants/{tenant}/auth/token`, "
        "valid only under that tenant's paths."
    ),
)


async def get_current_user(
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None:
        raise InvalidAccessToken("Not authenticated: send `Authorization: Bearer <token>`.")
    return await lookup(
        session, service.authenticate, auth=auth, tenant=tenant, token=credentials.credentials
    )


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_optional_user(
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User | None:
    """The caller when a token is sent (an invalid one is still a 401), else None."""
    if credentials is None:
        return None
    return await lookup(
        session, service.authenticate, auth=auth, tenant=tenant, token=credentials.credentials
    )


OptionalUser = Annotated[User | None, Depends(get_optional_user)]

# For routes taking an ``OptionalUser``: FastAPI documents the bearer scheme as required
# even with ``auto_error=False``; ``openapi_extra`` lists are appended, so this makes the
# documented requirement "the bearer token, or nothing".
TOKEN_OPTIONAL: dict[str, Any] = {"security": [{}]}


def require_role(minimum: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency admitting the current user only with ``minimum`` role or stronger."""

    async def dependency(user: CurrentUser) -> User:
        if not user.role.at_least(minimum):
            raise RoleForbidden()
        return user

    return dependency


AdminUser = Annotated[User, Depends(require_role(Role.admin))]
AuthorUser = Annotated[User, Depends(require_role(Role.author))]


async def _password_work_slot() -> AsyncIterator[None]:
    yield


# bcrypt is CPU-bound: more hashes at once than cores only queue inside threads. Callers
# beyond this wait on the event loop, holding no worker thread, so reads keep flowing
# during a login flood. One Depends object: one limit shared by every password route.
PASSWORD_WORK = Depends(
    _password_work_slot, scope="function", max_concurrency=max(2, os.cpu_count() or 2)
)

LoginForm = Annotated[OAuth2PasswordRequestForm, Depends()]


def _limit_address(request: Request, limiter: RateLimiter, settings: Settings) -> None:
    """Logins and refreshes together, per client address."""
    limiter.hit(
        Limit("auth-address", settings.auth_requests_per_minute_per_address, 60),
        client_address(request),
    )


def count_login_attempt(
    request: Request, limiter: RateLimiter, settings: Settings, *, tenant: Tenant, login: str
) -> None:
    """Per client address, and per account (tenant + login) whether or not it exists."""
    _limit_address(request, limiter, settings)
    limiter.hit(
        Limit("login-account", settings.login_attempts_per_minute, 60),
        str(tenant.id),
        login.strip().lower(),
    )


def limit_login(
    request: Request,
    tenant: TenantDep,
    form: LoginForm,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> None:
    count_login_attempt(request, limiter, settings, tenant=tenant, login=form.username)


def limit_refresh(
    request: Request, tenant: TenantDep, limiter: RateLimiterDep, settings: SettingsDep
) -> None:
    _limit_address(request, limiter, settings)
    limiter.hit(
        Limit("refresh-tenant-address", settings.login_attempts_per_minute, 60),
        str(tenant.id),
        client_address(request),
    )


def limit_signup(request: Request, limiter: RateLimiterDep, settings: SettingsDep) -> None:
    """Registrations and new blogs, per client address."""
    limiter.hit(
        Limit(f"signup:{request.url.path}", settings.signups_per_hour_per_address, 3600),
        client_address(request),
    )


LoginLimit = Depends(limit_login)
RefreshLimit = Depends(limit_refresh)
SignupLimit = Depends(limit_signup)


def limit_verification_resend(
    tenant: TenantDep, user: CurrentUser, limiter: RateLimiterDep, settings: SettingsDep
) -> None:
    """Verification mails per account per hour."""
    limiter.hit(
        Limit("verification-resend", settings.verification_resends_per_hour, 3600),
        str(tenant.id),
        str(user.id),
    )


def limit_password_forgot(
    request: Request,
    tenant: TenantDep,
    data: PasswordForgotten,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> None:
    """Reset mails per client address, and per blog + address asked for (whether or not
    an account has it, so the limit tells nothing either)."""
    _limit_address(request, limiter, settings)
    limiter.hit(
        Limit("password-forgot", settings.password_resets_per_hour, 3600),
        str(tenant.id),
        data.email,
    )


ResendLimit = Depends(limit_verification_resend)
ForgotLimit = Depends(limit_password_forgot)


async def get_session_id(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    _user: CurrentUser,
    auth: AuthConfigDep,
) -> uuid.UUID | None:
    """The login the access token belongs to (``CurrentUser`` has checked it)."""
    if credentials is None:
        raise InvalidAccessToken()
    return auth.tokens.decode(credentials.credentials).session_id


CurrentSessionId = Annotated[uuid.UUID | None, Depends(get_session_id)]
