"""User accounts: creation, profiles, and the role rules of a tenant.

Every function works in a session already bound to the tenant (see
``blog.tenancy``), so no query here names ``tenant_id``.
"""

import uuid
from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from blog.auth.security import PasswordHasher
from blog.auth.sessions import end_all_sessions
from blog.database import insert_ignoring_conflicts, utcnow
from blog.keys import service as keys_service
from blog.media import service as media_service
from blog.pagination import PageParams, fetch_page
from blog.posts import service as posts_service
from blog.tenants.models import Tenant
from blog.users.exceptions import (
    CannotFollowSelf,
    EmailTaken,
    LastOwner,
    RegistrationClosed,
    RoleForbidden,
    UsernameTaken,
    UserNotFound,
)
from blog.users.models import Follow, Role, User
from blog.users.schemas import UserAdminUpdate, UserCreate, UserSelfUpdate
from blog.webhooks.events import emit, member_data
from blog.webhooks.models import Event


def _ensure_available(
    session: Session, *, email: str | None, username: str | None, exclude: uuid.UUID | None = None
) -> None:
    def taken(condition: sa.ColumnElement[bool]) -> bool:
        query = select(User.id).where(condition)
        if exclude is not None:
            query = query.where(User.id != exclude)
        return session.exec(query.limit(1)).first() is not None

    if email is not None and taken(col(User.email) == email.lower()):
        raise EmailTaken()
    if username is not None and taken(col(User.username_key) == username.lower()):
        raise UsernameTaken()


def ensure_email_available(
    session: Session, *, email: str, exclude: uuid.UUID | None = None
) -> None:
    """409 when another account of this blog has ``email``."""
    _ensure_available(session, email=email, username=None, exclude=exclude)


def create_user(
    session: Session,
    *,
    tenant: Tenant,
    hasher: PasswordHasher,
    data: UserCreate,
    role: Role = Role.author,
) -> User:
    """Add an account to ``tenant``; 409 when the email or username is taken there."""
    _ensure_available(session, email=data.email, username=data.username)
    user = User(
        tenant_id=tenant.id,
        email=data.email.lower(),
        username=data.username,
        username_key=data.username.lower(),
        name=data.name,
        role=role,
        hashed_password=hasher.hash(data.password),
    )
    session.add(user)
    session.flush()
    emit(session, tenant.id, Event.member_created, member_data(user))
    return user


def register(session: Session, *, tenant: Tenant, hasher: PasswordHasher, data: UserCreate) -> User:
    """Public sign-up to a tenant whose registration is open."""
    if not tenant.registration_open:
        raise RegistrationClosed()
    return create_user(session, tenant=tenant, hasher=hasher, data=data)


def get_user(session: Session, *, user_id: uuid.UUID) -> User:
    user = session.exec(select(User).where(col(User.id) == user_id)).first()
    if user is None:
        raise UserNotFound()
    return user


def get_by_username(session: Session, *, username: str) -> User:
    """The member with this username, ignoring case (404 otherwise)."""
    key = username.strip().lower()
    user = None
    if "\x00" not in key:  # PostgreSQL refuses NUL in a query; no username has one
        user = session.exec(select(User).where(col(User.username_key) == key)).first()
    if user is None:
        raise UserNotFound()
    return user


def find_by_login(session: Session, *, login: str) -> User | None:
    """The user whose email or username is ``login`` (case-insensitive)."""
    key = login.strip().lower()
    if "\x00" in key:
        return None  # no account has one, and PostgreSQL refuses it in a query
    column = User.email if "@" in key else User.username_key
    return session.exec(select(User).where(col(column) == key)).first()


def list_users(
    session: Session, *, params: PageParams, q: str | None = None
) -> tuple[Sequence[User], int]:
    query = select(User).order_by(col(User.username_key))
    if q:
        key = q.lower()  # '%' and '_' in q are matched literally
        query = query.where(
            sa.or_(
                sa.func.lower(User.name).contains(key, autoescape=True),
                col(User.username_key).contains(key, autoescape=True),
                col(User.email).contains(key, autoescape=True),
            )
        )
    return fetch_page(session, query, params)


def update_profile(session: Session, *, user: User, data: UserSelfUpdate) -> User:
    """Change the profile; the address changes only through a mailed link
    (``blog.auth.links``)."""
    changes = data.model_dump(exclude_unset=True)
    _ensure_available(session, email=None, username=changes.get("username"), exclude=user.id)
    if "username" in changes:
        changes["username_key"] = changes["username"].lower()
    user.sqlmodel_update(changes)
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def _ensure_can_manage(actor: User, target: User) -> None:
    """Admins manage accounts up to admin; only owners manage owners."""
    if not actor.role.at_least(Role.admin):
        raise RoleForbidden()
    if target.role == Role.owner and actor.role != Role.owner:
        raise RoleForbidden("Only owners can manage owners.")


def _ensure_other_owner_remains(session: Session, *, target: User) -> None:
    if target.role != Role.owner or not target.is_active:
        return
    # Lock the owner rows (PostgreSQL) so two owners cannot demote each other at once.
    owners = session.exec(
        select(User.id)
        .where(col(User.role) == Role.owner, col(User.is_active).is_(True))
        .with_for_update()
    ).all()
    if all(owner_id == target.id for owner_id in owners):
        raise LastOwner()


def admin_update(session: Session, *, actor: User, target: User, data: UserAdminUpdate) -> User:
    """Change another account's role or active flag, within the role rules."""
    _ensure_can_manage(actor, target)
    if data.role == Role.owner and actor.role != Role.owner:
        raise RoleForbidden("Only owners can make owners.")
    return update_account(session, target=target, data=data)


def unlock(session: Session, *, actor: User, target: User) -> User:
    """Lift ``target``'s lockout, within the role rules (the operator's CLI skips them)."""
    _ensure_can_manage(actor, target)
    return lift_lockout(session, target=target)


def lift_lockout(session: Session, *, target: User) -> User:
    target.failed_logins = 0
    target.locked_until = None
    session.add(target)
    session.flush()
    return target


def update_account(session: Session, *, target: User, data: UserAdminUpdate) -> User:
    """Change an account's role or active flag under the one rule that binds everyone,
    the platform's operator included: a blog keeps at least one active owner. Deactivating
    ends every login and access token of the account at once."""
    changes = data.model_dump(exclude_unset=True)
    new_role = changes.get("role")
    demoted = new_role is not None and new_role != Role.owner
    deactivated = changes.get("is_active") is False and target.is_active
    if demoted or deactivated:
        _ensure_other_owner_remains(session, target=target)
    target.sqlmodel_update(changes)
    target.updated_at = utcnow()
    session.add(target)
    if deactivated:
        end_all_sessions(session, user=target)
    session.flush()
    return target


def delete_user(session: Session, *, actor: User, target: User) -> None:
    """Remove an account (the user itself, or an admin within the role rules).

    Their comments and logins go with them; their posts stay, without an author, so
    that nothing of any other user (comments on those posts) is lost.
    """
    if actor.id != target.id:
        _ensure_can_manage(actor, target)
    _ensure_other_owner_remains(session, target=target)
    posts_service.detach_author(session, user=target)
    keys_service.detach_creator(session, user=target)
    media_service.detach_uploader(session, user=target)
    session.delete(target)
    session.flush()
    emit(
        session,
        target.tenant_id,
        Event.member_deleted,
        {"id": str(target.id), "username": target.username},
    )


def set_password(session: Session, *, user: User, hasher: PasswordHasher, password: str) -> None:
    """Store a new password's hash. Callers go through
    ``blog.auth.service.replace_password``, which also ends the user's logins."""
    user.hashed_password = hasher.hash(password)
    user.updated_at = utcnow()
    session.add(user)
    session.flush()


def follow(session: Session, *, follower: User, followed: User) -> None:
    """Follow a member of the same blog (idempotent)."""
    if follower.id == followed.id:
        raise CannotFollowSelf()
    insert_ignoring_conflicts(
        session,
        Follow,
        [{"tenant_id": follower.tenant_id, "follower_id": follower.id, "followed_id": followed.id}],
        key=["tenant_id", "follower_id", "followed_id"],
    )


def unfollow(session: Session, *, follower: User, followed: User) -> None:
    """Stop following (idempotent)."""
    session.execute(
        sa.delete(Follow).where(
            col(Follow.follower_id) == follower.id, col(Follow.followed_id) == followed.id
        )
    )


def followed_among(
    session: Session, *, viewer: User | None, user_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``user_ids`` the viewer follows (one query, whatever their number)."""
    if viewer is None or not user_ids:
        return set()
    return set(
        session.exec(
            select(Follow.followed_id).where(
                col(Follow.follower_id) == viewer.id, col(Follow.followed_id).in_(user_ids)
            )
        ).all()
    )
