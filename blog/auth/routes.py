"""Registration, login, token refresh and logout, under a tenant's path."""

from fastapi import APIRouter, status

from blog.auth import service
from blog.auth.dependencies import (
    PASSWORD_WORK,
    LoginForm,
    LoginLimit,
    RefreshLimit,
    SignupLimit,
)
from blog.auth.schemas import RefreshRequest, TokenPair
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep
from blog.errors import responses
from blog.tenants.dependencies import TenantDep
from blog.users import service as users_service
from blog.users.schemas import UserCreate, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[SignupLimit, PASSWORD_WORK],
    responses=responses(400, 403, 404, 409, 413, 422, 429),
    summary="Sign up to this blog (role: author)",
)
def register(
    data: UserCreate, tenant: TenantDep, session: SessionDep, auth: AuthConfigDep
) -> UserRead:
    user = users_service.register(session, tenant=tenant, hasher=auth.hasher, data=data)
    return UserRead.model_validate(user)


@router.post(
    "/token",
    dependencies=[LoginLimit, PASSWORD_WORK],
    responses=responses(400, 401, 404, 413, 422, 429),
    summary="Log in with email or username and password",
)
def login(
    form: LoginForm,
    _tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
) -> TokenPair:
    """OAuth2 password form: `username` may be the email or the username."""
    return service.login(session, auth=auth, login=form.username, password=form.password)


@router.post(
    "/refresh",
    dependencies=[RefreshLimit],
    responses=responses(400, 401, 404, 413, 422, 429),
    summary="Rotate a refresh token",
)
def refresh(
    data: RefreshRequest, _tenant: TenantDep, session: SessionDep, auth: AuthConfigDep
) -> TokenPair:
    return service.refresh(session, auth=auth, refresh_token=data.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 404, 413, 422),
    summary="End the login a refresh token belongs to",
)
def logout(data: RefreshRequest, _tenant: TenantDep, session: SessionDep) -> None:
    service.logout(session, refresh_token=data.refresh_token)
