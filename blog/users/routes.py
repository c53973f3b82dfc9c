"""Profiles and account management, under a tenant's path."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from blog.auth import links, sessions
from blog.auth import service as auth_service
from blog.auth.dependencies import (
    PASSWORD_WORK,
    AdminUser,
    CurrentSessionId,
    CurrentUser,
    MembersReader,
)
from blog.auth.schemas import PasswordChange, SessionRead
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep
from blog.errors import responses
from blog.pagination import PAGE_HEADERS, PageDep, PageHeadersDep
from blog.schemas import NoNul
from blog.tenants.dependencies import TenantDep
from blog.users import service
from blog.users.dependencies import PathUser
from blog.users.schemas import (
    EmailChange,
    Profile,
    UserAdminUpdate,
    UserPage,
    UserPublic,
    UserRead,
    UserSelfUpdate,
)

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", responses=responses(401, 404), summary="Your own account")
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.patch(
    "/me", responses=responses(400, 401, 404, 409, 413, 422), summary="Update your profile"
)
def update_me(data: UserSelfUpdate, user: CurrentUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(service.update_profile(session, user=user, data=data))


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[PASSWORD_WORK],
    responses=responses(400, 401, 404, 413, 422),
    summary="Change your password (ends every login and access token, this one included)",
)
def change_password(
    data: PasswordChange, user: CurrentUser, session: SessionDep, auth: AuthConfigDep
) -> None:
    auth_service.change_password(
        session,
        auth=auth,
        user=user,
        current_password=data.current_password,
        new_password=data.new_password,
    )


@router.post(
    "/me/email",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[PASSWORD_WORK],
    responses=responses(400, 401, 404, 409, 413, 422),
    summary="Change your email address: a confirmation link goes to the new one",
)
def change_email(
    data: EmailChange,
    user: CurrentUser,
    tenant: TenantDep,
    session: SessionDep,
    auth: AuthConfigDep,
) -> None:
    """The address changes when the link is used (`POST /auth/email/confirm`); the
    current address is told of the request."""
    links.request_email_change(
        session,
        auth=auth,
        tenant=tenant,
        user=user,
        current_password=data.current_password,
        new_email=data.new_email,
    )


@router.get("/me/sessions", responses=responses(401, 404), summary="Your active logins")
def list_sessions(
    user: CurrentUser, current: CurrentSessionId, session: SessionDep, response: Response
) -> list[SessionRead]:
    # Logins are no blog content (they move no version): never kept by a cache.
    response.headers["Cache-Control"] = "no-store"
    return [
        SessionRead.model_validate(login).model_copy(update={"current": login.id == current})
        for login in sessions.active_sessions(session, user=user)
    ]


@router.delete(
    "/me/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
    summary="Log out everywhere: end every login and access token, this one included",
)
def end_all_sessions(user: CurrentUser, session: SessionDep) -> None:
    sessions.end_all_sessions(session, user=user)


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404, 422),
    summary="End one of your logins (its refresh token stops at once)",
)
def end_session(session_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    sessions.end_session(session, user_id=user.id, session_id=session_id)


@router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404, 409),
    summary="Delete your own account",
)
def delete_me(user: CurrentUser, session: SessionDep) -> None:
    """Your comments and logins go; your posts stay, without an author."""
    service.delete_user(session, actor=user, target=user)


@router.get(
    "",
    responses=responses(401, 403, 404, 422) | PAGE_HEADERS,
    summary="List accounts (admins)",
)
def list_users(
    _admin: MembersReader,
    session: SessionDep,
    page: PageDep,
    headers: PageHeadersDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Matches name, username or email."),
        NoNul,
    ] = None,
) -> UserPage:
    users, total = service.list_users(session, params=page, q=q)
    return headers(UserPage.of(users, total, page))


@router.get("/{user_id}", responses=responses(404, 422), summary="A public profile")
def read_user(user: PathUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/{user_id}",
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Change a role or deactivate an account (admins)",
)
def admin_update_user(
    admin: AdminUser, target: PathUser, data: UserAdminUpdate, session: SessionDep
) -> UserRead:
    return UserRead.model_validate(
        service.admin_update(session, actor=admin, target=target, data=data)
    )


@router.post(
    "/{user_id}/unlock",
    responses=responses(401, 403, 404, 422),
    summary="Lift a lockout after wrong passwords (admins)",
)
def unlock_user(admin: AdminUser, target: PathUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(service.unlock(session, actor=admin, target=target))


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 409, 422),
    summary="Delete an account (admins, or the user itself)",
)
def delete_user(actor: CurrentUser, target: PathUser, session: SessionDep) -> None:
    service.delete_user(session, actor=actor, target=target)


@router.post(
    "/{user_id}/follow",
    responses=responses(401, 422),
    summary="Follow a member; their posts join your feed",
)
def follow(user: CurrentUser, target: PathUser, session: SessionDep) -> Profile:
    service.follow(session, follower=user, followed=target)
    return Profile.model_validate(target).model_copy(update={"following": True})


@router.delete("/{user_id}/follow", responses=responses(401), summary="Stop following a member")
def unfollow(user: CurrentUser, target: PathUser, session: SessionDep) -> Profile:
    service.unfollow(session, follower=user, followed=target)
    return Profile.model_validate(target).model_copy(update={"following": False})
