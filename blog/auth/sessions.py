"""Logins (sessions): opened by a password login, listed and ended by their member.

Ending a login revokes its refresh tokens; its access token lives out its few minutes.
Ending *every* login (log out everywhere, a new password, deactivation) also bumps the
user's token generation, which every access token carries: those stop at once.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.auth.models import AuthSession, RefreshToken
from blog.database import utcnow
from blog.errors import NotFound
from blog.users.models import User


class SessionNotFound(NotFound):
    code = "session_not_found"
    detail = "No such login of yours."


def open_session(session: Session, *, user: User, user_agent: str | None) -> AuthSession:
    login = AuthSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        user_agent=(user_agent or None) and user_agent[:255],
    )
    session.add(login)
    session.flush()  # before its refresh tokens, which refer to it
    return login


def active_sessions(session: Session, *, user: User) -> Sequence[AuthSession]:
    """The user's logins that can still refresh, most recently used first."""
    return session.exec(
        select(AuthSession)
        .where(col(AuthSession.user_id) == user.id, col(AuthSession.ended_at).is_(None))
        .order_by(col(AuthSession.last_used_at).desc(), col(AuthSession.id).desc())
    ).all()


def _end(session: Session, logins: sa.ColumnElement[bool], tokens: sa.ColumnElement[bool]) -> int:
    """End the open logins matching ``logins`` and revoke the live refresh tokens matching
    ``tokens``; how many logins ended."""
    ended = session.execute(
        sa.update(AuthSession)
        .where(logins, col(AuthSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )
    session.execute(
        sa.update(RefreshToken)
        .where(tokens, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    count: int = ended.rowcount  # type: ignore[attr-defined]
    return count


def end_session(session: Session, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End one login of ``user_id`` (404 for anyone else's, or an ended one)."""
    ended = _end(
        session,
        sa.and_(col(AuthSession.id) == session_id, col(AuthSession.user_id) == user_id),
        sa.and_(col(RefreshToken.family_id) == session_id, col(RefreshToken.user_id) == user_id),
    )
    if ended != 1:
        raise SessionNotFound()


def end_login_family(session: Session, *, family_id: uuid.UUID) -> None:
    """End the login a refresh token belongs to (whoever holds it); idempotent."""
    _end(session, col(AuthSession.id) == family_id, col(RefreshToken.family_id) == family_id)


def end_all_sessions(session: Session, *, user: User) -> None:
    """End every login of ``user`` and every access token issued to them, at once."""
    _end(session, col(AuthSession.user_id) == user.id, col(RefreshToken.user_id) == user.id)
    user.token_generation += 1
    session.add(user)
    session.flush()
