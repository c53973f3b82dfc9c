"""Who is calling (``CurrentUser``, ``AdminUser``, …), and the limits on proving it.

Every API names its callers through one :class:`Callers`: its token scheme and the
tenant its paths name are parameters (the native ``Authorization: Bearer`` under
``/api/v1/tenants/{tenant}``; the RealWorld adapter's ``Token`` under its mount), while
authenticating, the role rule and who may write are written once, here.

API keys (native API only): a route accepts a key only where it declares a scope
(``require_role(Role.editor, scope=Scope.posts_write)``, ``callers.current_for(scope)``,
``callers.optional_for(scope)``). There an admin key holding the scope acts as its
creator; any other valid key is a 403 where a caller is required, and an anonymous
reader where one is optional. Routes declaring no scope refuse every key (403).
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from blog.auth import service
from blog.auth.exceptions import AccountLocked, EmailNotVerified, InvalidAccessToken
from blog.auth.schemas import LoginForm, PasswordForgotten
from blog.database import SessionDep, lookup
from blog.dependencies import AuthConfigDep, SettingsDep
from blog.errors import BlogError, Unauthorized
from blog.keys.dependencies import AcceptsKey, get_key_caller
from blog.keys.exceptions import KeyNotAllowed
from blog.keys.models import Scope
from blog.keys.service import KeyCaller
from blog.observability.context import note_user
from blog.observability.metrics import LOGINS
from blog.ratelimit import Limit, RateLimiter, RateLimiterDep, client_address
from blog.settings import Settings
from blog.tenants.dependencies import TenantDep, get_tenant
from blog.tenants.models import Tenant
from blog.users.exceptions import RoleForbidden
from blog.users.models import Role, User

# Dependencies (their parameters are FastAPI's to fill): the token a request presents
# (None when it sends none; a malformed header is a 401), and the tenant its path names.
TokenSource = Callable[..., Awaitable[str | None]]
TenantSource = Callable[..., Awaitable[Tenant]]
UserDependency = Callable[..., Awaitable[User]]
OptionalUserDependency = Callable[..., Awaitable[User | None]]
KeySource = Callable[..., Awaitable[KeyCaller | None]]


async def no_key() -> None:
    """The key source of an API that accepts no keys."""


class Callers:
    """The dependencies naming the caller of one API, built once per API.

    FastAPI runs a dependency once per request by its function: every route of an API
    must share these functions, so that asking for the caller twice (a route and its
    ``require_role``) authenticates once. ``missing`` is the 401 for a request sending
    no token, in the API's own words. ``key``: the API key presented (:func:`no_key`: the
    API accepts none).
    """

    def __init__(
        self,
        *,
        token: TokenSource,
        tenant: TenantSource,
        missing: Callable[[], Unauthorized],
        key: KeySource = no_key,
    ) -> None:
        self.tenant = tenant
        self.key = key
        self.missing = missing
        self._optional_for: dict[Scope, OptionalUserDependency] = {}
        self._current_for: dict[Scope, UserDependency] = {}

        async def optional_user(
            tenant: Annotated[Tenant, Depends(self.tenant)],
            session: SessionDep,
            auth: AuthConfigDep,
            presented: Annotated[str | None, Depends(token)],
        ) -> User | None:
            """The caller when a token is sent (an invalid one is still a 401), else None."""
            if presented is None:
                return None
            user = await lookup(
                session, service.authenticate, auth=auth, tenant=tenant, token=presented
            )
            note_user(user.id)
            return user

        async def current_user(
            user: Annotated[User | None, Depends(optional_user)],
            key: Annotated[KeyCaller | None, Depends(key)],
        ) -> User:
            """The caller; a request without a token is a 401, one with a key a 403."""
            if user is None:
                if key is not None:
                    raise KeyNotAllowed("API keys cannot be used here: send an access token.")
                raise missing()
            return user

        self.optional_user = optional_user
        self.current_user = current_user

    def optional_for(self, scope: Scope) -> OptionalUserDependency:
        """Like ``optional_user``, for a route an admin key with ``scope`` may call: such
        a key acts as its creator; any other valid key reads as anyone would."""
        if self.key is no_key:
            return self.optional_user
        if scope not in self._optional_for:

            async def optional_scoped(
                user: Annotated[User | None, Depends(self.optional_user)],
                key: Annotated[KeyCaller | None, Depends(self.key)],
                _documented: Annotated[None, AcceptsKey],
            ) -> User | None:
                if key is None:
                    return user
                if not key.allows(scope) or key.user is None:
                    return None
                note_user(key.user.id)
                return key.user

            self._optional_for[scope] = optional_scoped
        return self._optional_for[scope]

    def current_for(self, scope: Scope) -> UserDependency:
        """Like ``current_user``, for a route an admin key with ``scope`` may call; any
        other valid key is a 403."""
        if self.key is no_key:
            return self.current_user
        if scope not in self._current_for:
            missing = self.missing

            async def current_scoped(
                user: Annotated[User | None, Depends(self.optional_for(scope))],
                key: Annotated[KeyCaller | None, Depends(self.key)],
            ) -> User:
                if user is None:
                    if key is not None:
                        raise KeyNotAllowed(f"This API key lacks the `{scope}` scope.")
                    raise missing()
                return user

            self._current_for[scope] = current_scoped
        return self._current_for[scope]


bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "An access token from `POST /api/v1/tenants/{tenant}/auth/token`, "
        "valid only under that tenant's paths."
    ),
)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when absent."""
    return None if credentials is None else credentials.credentials


def _bearer_missing() -> Unauthorized:
    return InvalidAccessToken("Not authenticated: send `Authorization: Bearer <token>`.")


# The native API's callers: a bearer token, under the tenant of ``/api/v1/tenants/{tenant}``.
NATIVE_CALLERS = Callers(
    token=bearer_token, tenant=get_tenant, missing=_bearer_missing, key=get_key_caller
)
get_optional_user = NATIVE_CALLERS.optional_user
get_current_user = NATIVE_CALLERS.current_user

CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]

# For routes taking an ``OptionalUser``: FastAPI documents the bearer scheme as required
# even with ``auto_error=False``; ``openapi_extra`` lists are appended, so this makes the
# documented requirement "the bearer token, or nothing".
TOKEN_OPTIONAL: dict[str, Any] = {"security": [{}]}


def require_role(
    minimum: Role, callers: Callers = NATIVE_CALLERS, *, scope: Scope | None = None
) -> UserDependency:
    """A dependency admitting the caller only with ``minimum`` role or stronger; with a
    ``scope``, an admin key holding it too (acting as its creator, an admin or owner)."""
    caller = callers.current_user if scope is None else callers.current_for(scope)

    async def dependency(user: Annotated[User, Depends(caller)]) -> User:
        if not user.role.at_least(minimum):
            raise RoleForbidden()
        return user

    return dependency


def _proven_where_required(user_dependency: UserDependency, callers: Callers) -> UserDependency:
    """``user_dependency``'s member, if their address is proven where the blog requires
    it for writing (reading and logging in never need it)."""

    async def dependency(
        user: Annotated[User, Depends(user_dependency)],
        tenant: Annotated[Tenant, Depends(callers.tenant)],
    ) -> User:
        if tenant.require_verified_email and user.email_verified_at is None:
            raise EmailNotVerified()
        return user

    return dependency


def require_writer(
    callers: Callers = NATIVE_CALLERS, *, scope: Scope | None = None
) -> UserDependency:
    """A dependency admitting members who may write posts: authors and above (readers
    only comment), verified where the blog requires it. The one rule of who may write
    posts, for every API."""
    return _proven_where_required(require_role(Role.author, callers, scope=scope), callers)


def require_commenter(callers: Callers = NATIVE_CALLERS) -> UserDependency:
    """A dependency admitting members who may comment: any member, verified where the
    blog requires it. The one rule of who may comment, for every API."""
    return _proven_where_required(callers.current_user, callers)


AdminUser = Annotated[User, Depends(require_role(Role.admin))]
AuthorUser = Annotated[User, Depends(require_writer(scope=Scope.posts_write))]
# Routes an admin key may call, by scope (a bearer token's caller as always).
PostsReader = Annotated[User | None, Depends(NATIVE_CALLERS.optional_for(Scope.posts_read))]
PostsWriter = Annotated[User, Depends(NATIVE_CALLERS.current_for(Scope.posts_write))]
CommentModerator = Annotated[User, Depends(NATIVE_CALLERS.current_for(Scope.comments_moderate))]
MembersReader = Annotated[User, Depends(require_role(Role.admin, scope=Scope.members_read))]
WebhooksManager = Annotated[User, Depends(require_role(Role.admin, scope=Scope.webhooks_manage))]
CommenterUser = Annotated[User, Depends(require_commenter())]


async def _password_work_slot() -> AsyncIterator[None]:
    yield


# bcrypt is CPU-bound: more hashes at once than cores only queue inside threads. Callers
# beyond this wait on the event loop, holding no worker thread, so reads keep flowing
# during a login flood. One Depends object: one limit shared by every password route.
PASSWORD_WORK = Depends(
    _password_work_slot, scope="function", max_concurrency=max(2, os.cpu_count() or 2)
)

# A model, not FastAPI's OAuth2PasswordRequestForm: its schema gets a name (``LoginForm``).
LoginFormData = Annotated[LoginForm, Form()]


def _limit_address(request: Request, limiter: RateLimiter, settings: Settings) -> None:
    """Logins and refreshes together, per client address."""
    limiter.hit(
        Limit("auth-address", settings.auth_requests_per_minute_per_address, 60),
        client_address(request),
    )


LoginName = Callable[..., Awaitable[str]]


def login_limit(login: LoginName, *, tenant: TenantSource = get_tenant) -> Callable[..., None]:
    """A dependency counting a login attempt, per client address and per account (tenant +
    login, whether or not it exists). ``login`` is a dependency giving the login name sent;
    a request whose credentials do not parse is refused before it counts."""

    def limit(
        request: Request,
        blog: Annotated[Tenant, Depends(tenant)],
        name: Annotated[str, Depends(login)],
        limiter: RateLimiterDep,
        settings: SettingsDep,
    ) -> None:
        _limit_address(request, limiter, settings)
        limiter.hit(
            Limit("login-account", settings.login_attempts_per_minute, 60),
            str(blog.id),
            name.strip().lower(),
        )

    return limit


async def _form_login(form: LoginFormData) -> str:
    return form.username


limit_login = login_limit(_form_login)


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
        Limit("signup", settings.signups_per_hour_per_address, 3600),
        request.url.path,
        client_address(request),
    )


LoginLimit = Depends(limit_login)
RefreshLimit = Depends(limit_refresh)
SignupLimit = Depends(limit_signup)


def login_counter(api: str) -> Any:
    """A dependency counting the outcome of a password login on ``api`` (``native``,
    ``realworld``) in the metrics: success, locked, or failure (wrong or unknown
    credentials, a refused password). Listed after the rate limits, so a refused
    attempt counts there, not here; a request that does not parse counts nowhere."""

    async def count() -> AsyncIterator[None]:
        try:
            yield
        except AccountLocked:
            LOGINS.labels(api, "locked").inc()
            raise
        except BlogError:
            LOGINS.labels(api, "failure").inc()
            raise
        LOGINS.labels(api, "success").inc()

    return Depends(count, scope="function")


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
