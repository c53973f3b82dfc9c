"""Single-use links sent by mail: prove an address, reset a forgotten password, confirm a
new address.

A link carries a random token; only its SHA-256 is stored, with the address it was sent
to, an expiry, and when it was used. Using one claims it atomically, so a link works
once even when it is opened twice at the same moment. Mail leaves only after the
transaction that made the link commits (``blog.mail.send_after_commit``).
"""

import uuid
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from blog.auth import service as auth_service
from blog.auth.exceptions import (
    EmailAlreadyVerified,
    InvalidLink,
    SameEmail,
    WrongCurrentPassword,
)
from blog.auth.models import AccountToken, LinkPurpose
from blog.auth.security import AuthConfig, hash_token, new_refresh_token
from blog.background import BackgroundWork, Job
from blog.database import new_session, utcnow
from blog.mail import Letter, TemplateName, frontend_link, send_after_commit
from blog.tenancy import bind_tenant
from blog.tenants.models import Tenant
from blog.users import service as users_service
from blog.users.models import User

TEMPLATES: dict[LinkPurpose, TemplateName] = {
    LinkPurpose.verify_email: "verify_email",
    LinkPurpose.reset_password: "reset_password",
    LinkPurpose.change_email: "confirm_email_change",
}
# The page of the blog's frontend each link opens; it posts the token back to the API.
ACTIONS = {
    LinkPurpose.verify_email: "verify-email",
    LinkPurpose.reset_password: "reset-password",
    LinkPurpose.change_email: "confirm-email",
}


def _mail(
    session: Session,
    *,
    auth: AuthConfig,
    tenant: Tenant,
    to: str,
    template: TemplateName,
    **context: str,
) -> None:
    if auth.mailer is None:
        return
    letter = Letter(
        tenant_id=tenant.id, to=to, template=template, context={"blog_name": tenant.name, **context}
    )
    send_after_commit(session, auth.mailer, letter)


def _send_link(
    session: Session,
    *,
    auth: AuthConfig,
    tenant: Tenant,
    user: User,
    purpose: LinkPurpose,
    email: str,
    lifetime: timedelta,
) -> None:
    token = new_refresh_token()
    session.add(
        AccountToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            purpose=purpose,
            email=email,
            token_hash=hash_token(token),
            expires_at=utcnow() + lifetime,
        )
    )
    session.flush()
    link = frontend_link(
        tenant.frontend_url or auth.frontend_url,
        tenant_slug=tenant.slug,
        action=ACTIONS[purpose],
        token=token,
    )
    _mail(
        session,
        auth=auth,
        tenant=tenant,
        to=email,
        template=TEMPLATES[purpose],
        username=user.username,
        link=link,
        expires_minutes=str(int(lifetime.total_seconds() // 60)),
    )


def _claim(session: Session, *, token: str, purpose: LinkPurpose) -> tuple[AccountToken, User]:
    """The link's row and its user, once: every later use (or a concurrent one) fails."""
    found = session.exec(
        select(AccountToken).where(
            col(AccountToken.token_hash) == hash_token(token),
            col(AccountToken.purpose) == purpose,
        )
    ).first()
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise InvalidLink()
    claimed = session.execute(
        sa.update(AccountToken)
        .where(col(AccountToken.id) == found.id, col(AccountToken.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidLink()
    user = users_service.get_user(session, user_id=found.user_id)
    if not user.is_active:
        raise InvalidLink()
    return found, user


def _spend_others(session: Session, *, user: User, purpose: LinkPurpose) -> None:
    """Once one link of a kind is used, the user's other links of that kind die too."""
    session.execute(
        sa.update(AccountToken)
        .where(
            col(AccountToken.user_id) == user.id,
            col(AccountToken.purpose) == purpose,
            col(AccountToken.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )


# --- verification -------------------------------------------------------------------------


def send_verification(session: Session, *, auth: AuthConfig, tenant: Tenant, user: User) -> None:
    """Mail ``user`` a link proving their current address (409 once it is proven)."""
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified()
    _send_link(
        session,
        auth=auth,
        tenant=tenant,
        user=user,
        purpose=LinkPurpose.verify_email,
        email=user.email,
        lifetime=auth.email_link_lifetime,
    )


def verify_email(session: Session, *, token: str) -> User:
    """Mark the address the link was sent to as proven, if it is still the user's."""
    link, user = _claim(session, token=token, purpose=LinkPurpose.verify_email)
    if link.email != user.email:
        raise InvalidLink("This link was sent to an address that is no longer yours.")
    _spend_others(session, user=user, purpose=LinkPurpose.verify_email)
    return _mark_verified(session, user=user)


def _mark_verified(session: Session, *, user: User) -> User:
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        session.add(user)
        session.flush()
    return user


# --- forgotten passwords ------------------------------------------------------------------


def request_password_reset(
    session: Session, *, auth: AuthConfig, tenant: Tenant, email: str
) -> None:
    """Mail a reset link to the active account with this address; nothing otherwise (the
    caller answered the same either way before this ran)."""
    user = users_service.find_by_login(session, login=email)
    if user is None or not user.is_active:
        return
    _send_link(
        session,
        auth=auth,
        tenant=tenant,
        user=user,
        purpose=LinkPurpose.reset_password,
        email=user.email,
        lifetime=auth.reset_lifetime,
    )


def password_reset_job(
    engine: Engine, *, auth: AuthConfig, tenant_id: uuid.UUID, email: str
) -> None:
    """:func:`request_password_reset` in a unit of work of its own, bound to the blog it
    was asked in (background work names its tenant; it never inherits one)."""
    with new_session(engine) as session:
        bind_tenant(session, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            return  # the blog was deleted meanwhile
        request_password_reset(session, auth=auth, tenant=tenant, email=email)
        session.commit()


def reset_password(session: Session, *, auth: AuthConfig, token: str, password: str) -> User:
    """Set a new password through a reset link: every login and access token of the
    account ends, a lockout lifts, and the address is proven (the mail reached it)."""
    link, user = _claim(session, token=token, purpose=LinkPurpose.reset_password)
    _spend_others(session, user=user, purpose=LinkPurpose.reset_password)
    auth_service.replace_password(session, auth=auth, user=user, password=password)
    if link.email == user.email:
        _mark_verified(session, user=user)
    return user


# --- changing the address -----------------------------------------------------------------


def request_email_change(
    session: Session,
    *,
    auth: AuthConfig,
    tenant: Tenant,
    user: User,
    current_password: str,
    new_email: str,
) -> None:
    """Mail a confirmation link to ``new_email`` and tell the current address; the address
    changes only when the link is used."""
    if not auth.hasher.verify(current_password, user.hashed_password):
        raise WrongCurrentPassword()
    new_email = new_email.lower()
    if new_email == user.email:
        raise SameEmail()
    users_service.ensure_email_available(session, email=new_email, exclude=user.id)
    _send_link(
        session,
        auth=auth,
        tenant=tenant,
        user=user,
        purpose=LinkPurpose.change_email,
        email=new_email,
        lifetime=auth.email_link_lifetime,
    )
    _mail(
        session,
        auth=auth,
        tenant=tenant,
        to=user.email,
        template="email_changed",
        username=user.username,
        new_email=new_email,
    )


def confirm_email_change(session: Session, *, token: str) -> User:
    """Make the link's address the user's (proven by this very link)."""
    link, user = _claim(session, token=token, purpose=LinkPurpose.change_email)
    users_service.ensure_email_available(session, email=link.email, exclude=user.id)
    _spend_others(session, user=user, purpose=LinkPurpose.change_email)
    user.email = link.email
    user.email_verified_at = utcnow()
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def queue_password_reset(
    background: BackgroundWork, engine: Engine, *, auth: AuthConfig, tenant: Tenant, email: str
) -> None:
    """Hand the reset request to background work, tenant named (see the route)."""
    background.submit(
        Job(
            name="password-reset-request",
            tenant_id=tenant.id,
            run=partial(password_reset_job, engine, auth=auth, tenant_id=tenant.id, email=email),
        )
    )


def change_email_at_once(
    session: Session, *, auth: AuthConfig, tenant: Tenant, user: User, new_email: str
) -> None:
    """For the RealWorld API, whose ``PUT /user`` sets the address directly: it changes
    now but unproven; the old address is told, the new one gets a verification link."""
    new_email = new_email.lower()
    if new_email == user.email:
        return
    users_service.ensure_email_available(session, email=new_email, exclude=user.id)
    old_email = user.email
    user.email = new_email
    user.email_verified_at = None
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    _mail(
        session,
        auth=auth,
        tenant=tenant,
        to=old_email,
        template="email_replaced",
        username=user.username,
        new_email=new_email,
    )
    send_verification(session, auth=auth, tenant=tenant, user=user)
