"""Creating, listing and revoking a blog's API keys, and checking a presented key.

A key reads ``blog_ck_<prefix><secret>`` (content) or ``blog_ak_<prefix><secret>``
(admin): the prefix (12 characters) finds the row, the SHA-256 of the whole key must
match its ``secret_hash``. Every check runs against the database on every request, so
a revoked key, or one whose creator lost the right to it, fails on its very next call.
"""

import hmac
import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from blog.auth.security import hash_token
from blog.cache.versions import NOT_CONTENT_OPTION
from blog.database import utcnow
from blog.keys.exceptions import ApiKeyNotFound, InvalidApiKey, KeyCreatorNotAdmin
from blog.keys.models import PREFIX_LENGTH, ApiKey, KeyKind, Scope
from blog.keys.schemas import ApiKeyCreate
from blog.pagination import PageParams, fetch_page
from blog.tenants.models import Tenant
from blog.users.models import Role, User

MARKERS = {KeyKind.content: "blog_ck_", KeyKind.admin: "blog_ak_"}
_KINDS = {marker: kind for kind, marker in MARKERS.items()}
_MARKER_LENGTH = 8
SECRET_BYTES = 32  # 256 bits
_SECRET_LENGTH = 43  # token_urlsafe(32)
PREFIX_ALPHABET = string.ascii_letters + string.digits  # 71 bits in 12 characters
KEY_LENGTH = _MARKER_LENGTH + PREFIX_LENGTH + _SECRET_LENGTH
# last_used_at is written at most this often per key: not one write per read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class KeyCaller:
    """A valid key of the request's blog; ``user`` is the member an admin key acts as
    (None for a content key)."""

    key: ApiKey
    user: User | None

    def allows(self, scope: Scope) -> bool:
        return self.key.kind == KeyKind.admin and scope.value in self.key.scopes


def new_key(kind: KeyKind) -> tuple[str, str]:
    """A fresh key and its prefix."""
    # Letters and digits only: a prefix is typed on command lines (`blog keys revoke`),
    # where one starting with "-" would be read as an option.
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return MARKERS[kind] + prefix + secrets.token_urlsafe(SECRET_BYTES), prefix


def create_key(
    session: Session, *, tenant: Tenant, creator: User | None, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """A new key and its text (shown once; only its hash is kept). An admin key acts as
    ``creator``, who must be an active admin or owner."""
    if data.kind == KeyKind.admin and (
        creator is None or not creator.is_active or not creator.role.at_least(Role.admin)
    ):
        raise KeyCreatorNotAdmin()
    text, prefix = new_key(data.kind)
    key = ApiKey(
        tenant_id=tenant.id,
        kind=data.kind,
        name=data.name,
        prefix=prefix,
        secret_hash=hash_token(text),
        scopes=[scope.value for scope in data.scopes],
        created_by=creator.id if creator else None,
    )
    session.add(key)
    session.flush()
    return key, text


def keys_query() -> SelectOfScalar[ApiKey]:
    """The blog's keys, revoked ones too, newest first."""
    return select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())


def list_keys(session: Session, *, params: PageParams) -> tuple[Sequence[ApiKey], int]:
    """One page of :func:`keys_query`."""
    return fetch_page(session, keys_query(), params)


def find_key(session: Session, *, key_id_or_prefix: str) -> ApiKey:
    """A key of the blog by its id or its prefix."""
    try:
        condition = col(ApiKey.id) == uuid.UUID(key_id_or_prefix)
    except ValueError:
        condition = col(ApiKey.prefix) == key_id_or_prefix
    key = session.exec(select(ApiKey).where(condition)).first()
    if key is None:
        raise ApiKeyNotFound()
    return key


def revoke_key(session: Session, *, key: ApiKey) -> ApiKey:
    """Revoke ``key`` at once (idempotent: a revoked key keeps its first date)."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


def detach_creator(session: Session, *, user: User) -> None:
    """Keep a departing member's keys on record, without a creator (their admin keys
    stop working: they acted as that member)."""
    session.execute(
        sa.update(ApiKey).where(col(ApiKey.created_by) == user.id).values(created_by=None),
        execution_options={"synchronize_session": False},
    )


def authenticate(session: Session, *, key: str) -> KeyCaller:
    """The key of the session's blog this text is, if it is still in force; one answer
    (401) for every way it is not."""
    key = key.strip()
    kind = _KINDS.get(key[:_MARKER_LENGTH])
    if kind is None or len(key) != KEY_LENGTH:
        raise InvalidApiKey()
    row = session.exec(_KEY_BY_PREFIX, params={"prefix": key[_MARKER_LENGTH:][:PREFIX_LENGTH]})
    found = row.first()
    if (
        found is None
        or found.kind != kind
        or found.revoked_at is not None
        or not hmac.compare_digest(found.secret_hash, hash_token(key))
    ):
        raise InvalidApiKey()
    user = None
    if kind == KeyKind.admin:
        user = session.exec(select(User).where(col(User.id) == found.created_by)).first()
        if user is None or not user.is_active or not user.role.at_least(Role.admin):
            raise InvalidApiKey()
    _note_use(session, found)
    return KeyCaller(key=found, user=user)


def _note_use(session: Session, key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # No content changes: the blog's cached answers stay valid.
    session.execute(
        sa.update(ApiKey)
        .where(col(ApiKey.id) == key.id)
        .values(last_used_at=now)
        .execution_options(**{NOT_CONTENT_OPTION: True, "synchronize_session": False})
    )


# Built once: every request with a key runs it.
_KEY_BY_PREFIX = select(ApiKey).where(col(ApiKey.prefix) == sa.bindparam("prefix"))
