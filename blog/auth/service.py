"""Logging in (with lockout), rotating refresh tokens, changing passwords, and checking
access tokens.

Refresh tokens rotate: each works once and is replaced by a new one of the same login.
A token presented twice means it leaked, so that whole login is ended.

Lockout: each wrong password for an account counts; at the blog's threshold the
account locks for a minute, doubling with every further miss (at most a day), until a
right password after the lock, a password reset or an admin's unlock
(``blog.users.service.unlock``).
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.auth.exceptions import (
    AccountLocked,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidRefreshToken,
    PasswordRejected,
    RefreshTokenReused,
    WrongCurrentPassword,
)
from blog.auth.models import AuthSession, RefreshToken
from blog.auth.schemas import TokenPair
from blog.auth.security import (
    AuthConfig,
    InvalidToken,
    PasswordHasNul,
    PasswordTooLong,
    hash_token,
    new_refresh_token,
)
from blog.auth.sessions import end_all_sessions, end_login_family, open_session
from blog.cache.versions import NOT_CONTENT_OPTION
from blog.database import utcnow
from blog.tenants.models import Tenant
from blog.users import service as users_service
from blog.users.models import User

FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(days=1)


def _issue_pair(session: Session, *, auth: AuthConfig, user: User, login: AuthSession) -> TokenPair:
    refresh_token = new_refresh_token()
    session.add(
        RefreshToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=login.id,
            token_hash=hash_token(refresh_token),
            expires_at=utcnow() + auth.refresh_lifetime,
        )
    )
    session.flush()
    return TokenPair(
        access_token=auth.tokens.issue(
            user_id=user.id,
            tenant_id=user.tenant_id,
            generation=user.token_generation,
            session_id=login.id,
        ),
        expires_in=int(auth.tokens.lifetime.total_seconds()),
        refresh_token=refresh_token,
    )


def login(
    session: Session,
    *,
    auth: AuthConfig,
    tenant: Tenant,
    login: str,
    password: str,
    user_agent: str | None = None,
) -> TokenPair:
    """A new login (token pair) for a correct email-or-username and password."""
    user = check_credentials(session, auth=auth, tenant=tenant, login=login, password=password)
    return _issue_pair(
        session, auth=auth, user=user, login=open_session(session, user=user, user_agent=user_agent)
    )


def check_credentials(
    session: Session, *, auth: AuthConfig, tenant: Tenant, login: str, password: str
) -> User:
    """The active user these credentials prove; one answer for unknown accounts and wrong
    passwords alike (an unknown account still costs one hash, so timing tells nothing).
    A locked account answers 429 without its password being tried."""
    user = users_service.find_by_login(session, login=login)
    if user is not None and user.locked_until is not None and user.locked_until > utcnow():
        raise AccountLocked(retry_after=_seconds_until(user.locked_until))
    try:
        valid = auth.hasher.verify(password, user.hashed_password if user else None)
    except PasswordTooLong as exc:
        raise PasswordRejected() from exc
    except PasswordHasNul as exc:
        raise PasswordRejected("Passwords cannot contain NUL characters.") from exc
    if user is None or not valid or not user.is_active:
        if user is not None and user.is_active and not valid:
            _count_failure(session, tenant=tenant, user=user)
        raise InvalidCredentials()
    if user.failed_logins or user.locked_until is not None:
        _set_lock(session, user=user, failed_logins=0, locked_until=None)
    if auth.hasher.needs_rehash(user.hashed_password):
        user.hashed_password = auth.hasher.hash(password)
        session.add(user)
    return user


def _seconds_until(moment: datetime) -> int:
    return max(1, int((moment - utcnow()).total_seconds()) + 1)


def _lock_after(failed_logins: int, threshold: int) -> timedelta | None:
    """How long ``failed_logins`` wrong passwords in a row lock an account (None: not)."""
    if threshold <= 0 or failed_logins < threshold:
        return None
    return min(FIRST_LOCK * (1 << min(failed_logins - threshold, 20)), LONGEST_LOCK)


def _count_failure(session: Session, *, tenant: Tenant, user: User) -> None:
    """Count a wrong password atomically (concurrent misses all count), and lock the
    account at the blog's threshold. The request rolls nothing of this back: the error
    raised next keeps its changes."""
    failed = session.execute(
        sa.update(User)
        .where(col(User.id) == user.id)
        .values(failed_logins=col(User.failed_logins) + 1)
        .returning(col(User.failed_logins))
        .execution_options(**{NOT_CONTENT_OPTION: True}),
    ).scalar_one()
    lock = _lock_after(failed, tenant.lockout_threshold)
    if lock is not None:
        _set_lock(session, user=user, failed_logins=failed, locked_until=utcnow() + lock)


def _set_lock(
    session: Session, *, user: User, failed_logins: int, locked_until: datetime | None
) -> None:
    session.execute(
        sa.update(User)
        .where(col(User.id) == user.id)
        .values(failed_logins=failed_logins, locked_until=locked_until)
        .execution_options(**{NOT_CONTENT_OPTION: True})
    )


def refresh(
    session: Session, *, auth: AuthConfig, refresh_token: str, user_agent: str | None = None
) -> TokenPair:
    """Trade a refresh token for a new pair; a reused token ends its login."""
    token = session.exec(
        select(RefreshToken).where(col(RefreshToken.token_hash) == hash_token(refresh_token))
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
        end_login_family(session, family_id=token.family_id)
        raise RefreshTokenReused()
    user = users_service.get_user(session, user_id=token.user_id)
    if not user.is_active:
        raise InvalidRefreshToken()
    login = session.exec(select(AuthSession).where(col(AuthSession.id) == token.family_id)).one()
    login.last_used_at = utcnow()
    if user_agent:
        login.user_agent = user_agent[:255]
    session.add(login)
    return _issue_pair(session, auth=auth, user=user, login=login)


def logout(session: Session, *, refresh_token: str) -> None:
    """End the login the refresh token belongs to (idempotent; unknown tokens are ignored)."""
    family_id = session.exec(
        select(RefreshToken.family_id).where(
            col(RefreshToken.token_hash) == hash_token(refresh_token)
        )
    ).first()
    if family_id is not None:
        end_login_family(session, family_id=family_id)


def change_password(
    session: Session, *, auth: AuthConfig, user: User, current_password: str, new_password: str
) -> None:
    """Replace the password after checking the current one; every login and access token
    of the user ends."""
    if not auth.hasher.verify(current_password, user.hashed_password):
        raise WrongCurrentPassword()
    replace_password(session, auth=auth, user=user, password=new_password)


def replace_password(session: Session, *, auth: AuthConfig, user: User, password: str) -> None:
    """Set a new password without checking the old one (a reset by link or by the
    operator, the RealWorld ``PUT /user``); every login and access token of the user ends,
    and a lockout is lifted."""
    users_service.set_password(session, user=user, hasher=auth.hasher, password=password)
    users_service.lift_lockout(session, target=user)
    end_all_sessions(session, user=user)


def authenticate(session: Session, *, auth: AuthConfig, tenant: Tenant, token: str) -> User:
    """The active user an access token speaks for, under this tenant's path only, if the
    token is of the user's current generation (a new password ends older ones)."""
    try:
        claims = auth.tokens.decode_for(token, tenant_id=tenant.id)
    except InvalidToken as exc:
        raise InvalidAccessToken() from exc
    # The response cache checks a viewer the same way (blog/cache/lookups.py, MEMBER_SQL).
    user = session.exec(_USER_BY_ID, params={"user_id": claims.user_id}).first()
    if user is None or not user.is_active or user.token_generation != claims.generation:
        raise InvalidAccessToken()
    return user


# Built once: every request with a token runs it.
_USER_BY_ID = select(User).where(col(User.id) == sa.bindparam("user_id"))
