"""Logging in, rotating refresh tokens, and checking access tokens.

Refresh tokens rotate: each works once and is replaced by a new one of the same
family. A token presented twice means it leaked, so the whole family (that
login) is revoked.
"""

import uuid

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.auth.exceptions import (
    InvalidAccessToken,
    InvalidCredentials,
    InvalidRefreshToken,
    PasswordRejected,
    RefreshTokenReused,
    WrongCurrentPassword,
)
from blog.auth.models import RefreshToken
from blog.auth.schemas import TokenPair
from blog.auth.security import (
    AuthConfig,
    InvalidToken,
    PasswordHasNul,
    PasswordTooLong,
    hash_refresh_token,
    new_refresh_token,
)
from blog.database import utcnow
from blog.tenants.models import Tenant
from blog.users import service as users_service
from blog.users.models import User


def _issue_pair(
    session: Session, *, auth: AuthConfig, user: User, family_id: uuid.UUID
) -> TokenPair:
    refresh_token = new_refresh_token()
    session.add(
        RefreshToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(refresh_token),
            expires_at=utcnow() + auth.refresh_lifetime,
        )
    )
    session.flush()
    return TokenPair(
        access_token=auth.tokens.issue(user_id=user.id, tenant_id=user.tenant_id),
        expires_in=int(auth.tokens.lifetime.total_seconds()),
        refresh_token=refresh_token,
    )


def login(session: Session, *, auth: AuthConfig, login: str, password: str) -> TokenPair:
    """A new login (token pair) for a correct email-or-username and password."""
    user = check_credentials(session, auth=auth, login=login, password=password)
    return _issue_pair(session, auth=auth, user=user, family_id=uuid.uuid4())


def check_credentials(session: Session, *, auth: AuthConfig, login: str, password: str) -> User:
    """The active user these credentials prove; one answer for unknown accounts and wrong
    passwords alike (an unknown account still costs one hash, so timing tells nothing)."""
    user = users_service.find_by_login(session, login=login)
    try:
        valid = auth.hasher.verify(password, user.hashed_password if user else None)
    except PasswordTooLong as exc:
        raise PasswordRejected() from exc
    except PasswordHasNul as exc:
        raise PasswordRejected("Passwords cannot contain NUL characters.") from exc
    if user is None or not valid or not user.is_active:
        raise InvalidCredentials()
    if auth.hasher.needs_rehash(user.hashed_password):
        user.hashed_password = auth.hasher.hash(password)
        session.add(user)
    return user


def _revoke_where(session: Session, condition: sa.ColumnElement[bool]) -> None:
    session.execute(
        sa.update(RefreshToken)
        .where(condition, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def refresh(session: Session, *, auth: AuthConfig, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair; a reused token revokes its family."""
    token = session.exec(
        select(RefreshToken).where(
            col(RefreshToken.token_hash) == hash_refresh_token(refresh_token)
        )
    ).first()
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        raise InvalidRefreshToken()
    # Claim the token atomically, so of two concurrent refreshes exactly one wins.
    claimed = session.execute(
        sa.update(RefreshToken)
        .where(col(RefreshToken.id) == token.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        _revoke_where(session, col(RefreshToken.family_id) == token.family_id)
        raise RefreshTokenReused()
    user = users_service.get_user(session, user_id=token.user_id)
    if not user.is_active:
        raise InvalidRefreshToken()
    return _issue_pair(session, auth=auth, user=user, family_id=token.family_id)


def logout(session: Session, *, refresh_token: str) -> None:
    """End the login the refresh token belongs to (idempotent; unknown tokens are ignored)."""
    family_id = session.exec(
        select(RefreshToken.family_id).where(
            col(RefreshToken.token_hash) == hash_refresh_token(refresh_token)
        )
    ).first()
    if family_id is not None:
        _revoke_where(session, col(RefreshToken.family_id) == family_id)


def revoke_all(session: Session, *, user: User) -> None:
    """End every login of ``user``."""
    _revoke_where(session, col(RefreshToken.user_id) == user.id)


def change_password(
    session: Session, *, auth: AuthConfig, user: User, current_password: str, new_password: str
) -> None:
    """Replace the password after checking the current one; every login of the user ends."""
    if not auth.hasher.verify(current_password, user.hashed_password):
        raise WrongCurrentPassword()
    user.hashed_password = auth.hasher.hash(new_password)
    user.updated_at = utcnow()
    session.add(user)
    revoke_all(session, user=user)
    session.flush()


def replace_password(session: Session, *, auth: AuthConfig, user: User, password: str) -> None:
    """Set a new password without checking the old one (the signed-in user's RealWorld
    ``PUT /user``); every login of the user ends, as on a change."""
    users_service.set_password(session, user=user, hasher=auth.hasher, password=password)
    revoke_all(session, user=user)


def authenticate(session: Session, *, auth: AuthConfig, tenant: Tenant, token: str) -> User:
    """The active user an access token speaks for, under this tenant's path only."""
    try:
        claims = auth.tokens.decode_for(token, tenant_id=tenant.id)
    except InvalidToken as exc:
        raise InvalidAccessToken() from exc
    # The response cache checks a viewer the same way (blog/cache/lookups.py, MEMBER_SQL).
    user = session.exec(_USER_BY_ID, params={"user_id": claims.user_id}).first()
    if user is None or not user.is_active:
        raise InvalidAccessToken()
    return user


# Built once: every request with a token runs it.
_USER_BY_ID = select(User).where(col(User.id) == sa.bindparam("user_id"))
