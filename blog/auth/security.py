"""Password hashing (passlib + bcrypt) and access tokens (python-jose, HS256)."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jose import JWTError, jwt
from passlib.context import CryptContext

from blog.database import utcnow

if TYPE_CHECKING:
    from blog.mail import Mailer

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5: rejects) anything longer
JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
REFRESH_TOKEN_BYTES = 32


class PasswordTooLong(ValueError):
    """Raised for passwords bcrypt cannot take; rendered as a 422."""


class PasswordHasNul(ValueError):
    """Raised for passwords with a NUL character, which bcrypt refuses; rendered as a 422."""


def check_password_bytes(password: str) -> str:
    """Refuse passwords bcrypt cannot hash: longer than 72 bytes (instead of truncating
    them), or with a NUL character."""
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise PasswordTooLong(f"must be at most {MAX_PASSWORD_BYTES} bytes when UTF-8 encoded")
    if "\x00" in password:
        raise PasswordHasNul("must not contain NUL characters")
    return password


class PasswordHasher:
    """bcrypt through passlib's ``CryptContext``, with a dummy hash for equal-cost misses."""

    def __init__(self, rounds: int) -> None:
        self._context = CryptContext(schemes=["bcrypt"], bcrypt__rounds=rounds)
        self._dummy_hash = self._context.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return str(self._context.hash(check_password_bytes(password)))

    def verify(self, password: str, hashed: str | None) -> bool:
        """Check ``password``; with no hash (unknown user) spend the same time and fail."""
        check_password_bytes(password)
        if hashed is None:
            self._context.verify(password, self._dummy_hash)
            return False
        return bool(self._context.verify(password, hashed))

    def needs_rehash(self, hashed: str) -> bool:
        """True when ``hashed`` was made with other rounds than configured now."""
        return bool(self._context.needs_update(hashed))


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_id: str
    issued_at: datetime
    expires_at: datetime
    generation: int
    session_id: uuid.UUID | None


class InvalidToken(Exception):
    """The access token is malformed, forged, expired or of the wrong kind."""


class TokenCodec:
    """Issues and checks access tokens. The algorithm is pinned; every claim is required
    (``sid``, the login a token belongs to, is absent from RealWorld tokens, which have
    none).

    ``gen`` is the user's token generation when the token was issued: a password change,
    a reset, a deactivation or "log out everywhere" bumps it, and every request already
    reads the user's row, so older tokens stop working at once at no extra cost."""

    _REQUIRED = ("sub", "tid", "exp", "iat", "jti", "typ", "gen")

    def __init__(self, secret_key: str, lifetime: timedelta) -> None:
        self._key = secret_key
        self.lifetime = lifetime

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        generation: int,
        session_id: uuid.UUID | None = None,
        lifetime: timedelta | None = None,
    ) -> str:
        """A signed access token for ``user_id`` under ``tenant_id``'s paths only."""
        now = utcnow()
        claims: dict[str, object] = {
            "sub": str(user_id),
            "tid": str(tenant_id),
            "iat": int(now.timestamp()),
            "exp": int((now + (lifetime or self.lifetime)).timestamp()),
            "jti": secrets.token_urlsafe(12),
            "typ": ACCESS_TOKEN_TYPE,
            "gen": generation,
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        return str(jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM))

    def decode_for(self, token: str, *, tenant_id: uuid.UUID) -> AccessClaims:
        """The claims of a valid token issued under ``tenant_id`` (any other blog's is
        refused): the one check of a token, wherever it is presented."""
        claims = self.decode(token)
        if claims.tenant_id != tenant_id:
            raise InvalidToken("issued by another blog")
        return claims

    def decode(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                options={f"require_{claim}": True for claim in ("exp", "iat", "sub", "jti")},
            )
            if any(claim not in claims for claim in self._REQUIRED):
                raise InvalidToken("missing claim")
            if claims["typ"] != ACCESS_TOKEN_TYPE:
                raise InvalidToken("not an access token")
            if type(claims["gen"]) is not int:
                raise InvalidToken("bad generation")
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                tenant_id=uuid.UUID(claims["tid"]),
                token_id=str(claims["jti"]),
                issued_at=datetime.fromtimestamp(claims["iat"], tz=utcnow().tzinfo),
                expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
                generation=claims["gen"],
                session_id=uuid.UUID(claims["sid"]) if "sid" in claims else None,
            )
        except (JWTError, ValueError, TypeError, AttributeError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    """An opaque refresh token; only its hash is stored."""
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What is stored of a random token (a refresh token, a mailed link, an API key):
    SHA-256 is right here, the token being 256 random bits, not a guessable password."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Everything the auth services need, built once per app from settings."""

    hasher: PasswordHasher
    tokens: TokenCodec
    refresh_lifetime: timedelta
    # Mailed links: where they point ({tenant}: the blog's slug) and how long they work.
    # Without a mailer (the CLI, the seeder) no mail is sent.
    mailer: "Mailer | None"
    frontend_url: str
    reset_lifetime: timedelta
    email_link_lifetime: timedelta
