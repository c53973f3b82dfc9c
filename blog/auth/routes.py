"""Registration, login, token refresh and logout, and the pages mailed links open
(verify an address, reset a password, confirm a new address), under a tenant's path."""

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from blog.auth import cookies, links, service
from blog.auth.cookies import PresentedRefreshDep, RefreshIn
from blog.auth.dependencies import (
    PASSWORD_WORK,
    CurrentUser,
    ForgotLimit,
    LoginFormData,
    LoginLimit,
    RefreshLimit,
    ResendLimit,
    SignupLimit,
    login_counter,
)
from blog.auth.schemas import LinkUse, PasswordForgotten, PasswordReset, TokenPair
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep, BackgroundDep, SettingsDep
from blog.errors import responses
from blog.tenants.dependencies import TenantDep
from blog.users import service as users_service
from blog.users.schemas import UserCreate, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])

UserAgent = Annotated[str | None, Header(include_in_schema=False)]


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[SignupLimit, PASSWORD_WORK],
    responses=responses(400, 403, 404, 409, 413, 422, 429),
    summary="Sign up to this blog (role: author); a verification link is mailed",
)
def register(
    data: UserCreate, tenant: TenantDep, session: SessionDep, auth: AuthConfigDep
) -> UserRead:
    user = users_service.register(session, tenant=tenant, hasher=auth.hasher, data=data)
    links.send_verification(session, auth=auth, tenant=tenant, user=user)
    return UserRead.model_validate(user)


@router.post(
    "/token",
    dependencies=[LoginLimit, PASSWORD_WORK, login_counter("native")],
    responses=responses(400, 401, 404, 413, 422, 429),
    summary="Log in with email or username and password",
)
def login(
    form: LoginFormData,
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
    response: Response,
    user_agent: UserAgent = None,
    refresh_in: RefreshIn = "body",
) -> TokenPair:
    """OAuth2 password form: `username` may be the email or the username. Wrong passwords
    in a row lock the account for a growing time (429 `account_locked`, `Retry-After`)."""
    pair = service.login(
        session,
        auth=auth,
        tenant=tenant,
        login=form.username,
        password=form.password,
        user_agent=user_agent,
    )
    if refresh_in == "cookie":
        return cookies.deliver(response, pair=pair, tenant=tenant, settings=settings)
    return pair


@router.post(
    "/refresh",
    dependencies=[RefreshLimit],
    responses=responses(400, 401, 403, 404, 413, 422, 429),
    summary="Rotate a refresh token (from the body, or the cookie with X-CSRF-Token)",
)
def refresh(
    presented: PresentedRefreshDep,
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
    response: Response,
    user_agent: UserAgent = None,
) -> TokenPair:
    pair = service.refresh(session, auth=auth, refresh_token=presented.token, user_agent=user_agent)
    if presented.from_cookie:
        return cookies.deliver(response, pair=pair, tenant=tenant, settings=settings)
    return pair


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 401, 403, 404, 413, 422),
    summary="End the login a refresh token (body or cookie) belongs to",
)
def logout(
    presented: PresentedRefreshDep,
    tenant: TenantDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> None:
    service.logout(session, refresh_token=presented.token)
    if presented.from_cookie:
        cookies.forget(response, tenant=tenant, settings=settings)


@router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 404, 413, 422),
    summary="Prove your address with the token of the mailed link",
)
def verify_email(data: LinkUse, _tenant: TenantDep, session: SessionDep) -> None:
    links.verify_email(session, token=data.token)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[ResendLimit],
    responses=responses(401, 404, 409, 429),
    summary="Mail the verification link again",
)
def resend_verification(
    user: CurrentUser, tenant: TenantDep, session: SessionDep, auth: AuthConfigDep
) -> None:
    links.send_verification(session, auth=auth, tenant=tenant, user=user)


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[ForgotLimit],
    responses=responses(400, 404, 413, 422, 429),
    summary="Mail a password reset link (the same answer whether the account exists)",
)
def forgot_password(
    data: PasswordForgotten,
    request: Request,
    tenant: TenantDep,
    auth: AuthConfigDep,
    background: BackgroundDep,
) -> None:
    """Answers 202 at once, before looking for the account: the lookup and the mail run in
    the background, so neither the answer nor its timing tells whether it exists."""
    links.queue_password_reset(
        background, request.app.state.engine, auth=auth, tenant=tenant, email=data.email
    )


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[PASSWORD_WORK],
    responses=responses(400, 404, 413, 422),
    summary="Set a new password with the token of the mailed link (ends every login)",
)
def reset_password(
    data: PasswordReset, _tenant: TenantDep, session: SessionDep, auth: AuthConfigDep
) -> None:
    links.reset_password(session, auth=auth, token=data.token, password=data.new_password)


@router.post(
    "/email/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(400, 404, 409, 413, 422),
    summary="Make a new address yours with the token of the link mailed to it",
)
def confirm_email(data: LinkUse, _tenant: TenantDep, session: SessionDep) -> None:
    links.confirm_email_change(session, token=data.token)
