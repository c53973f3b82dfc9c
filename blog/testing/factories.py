"""factory-boy factories that always build consistent tenant/user graphs.

A user built for a tenant belongs to that tenant; without one, a new tenant is
made for it. Every factory user can log in with :data:`DEFAULT_PASSWORD`.
Factories write through the session given to :func:`bind_session` (the
``db`` fixture of :mod:`blog.testing.plugin` does that) and commit, so the API
under test sees their rows.
"""

from functools import lru_cache

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlmodel import Session

from blog.auth.security import PasswordHasher
from blog.tenants.models import Tenant
from blog.users.models import Role, User

DEFAULT_PASSWORD = "correct-horse-battery"
_TEST_BCRYPT_ROUNDS = 4  # the minimum: fast, still a real bcrypt hash

_session: Session | None = None


def bind_session(session: Session | None) -> None:
    """Make every factory write through ``session`` (``None`` unbinds)."""
    global _session
    _session = session


def _current_session() -> Session:
    if _session is None:
        raise RuntimeError("factories need a session: use the `db` fixture or bind_session()")
    return _session


@lru_cache(maxsize=64)
def hash_password(password: str) -> str:
    """A bcrypt hash of ``password``, computed once per password per test run."""
    return PasswordHasher(rounds=_TEST_BCRYPT_ROUNDS).hash(password)


class _ModelFactory(SQLAlchemyModelFactory):  # type: ignore[misc]
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _current_session
        sqlalchemy_session_persistence = "commit"


class TenantFactory(_ModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"blog-{n}")
    name = factory.Faker("company")
    registration_open = True


class UserFactory(_ModelFactory):
    """``UserFactory(tenant=t, role=Role.admin)``; ``password=`` sets the login password."""

    class Meta:
        model = User
        exclude = ("tenant", "password")

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    username = factory.Sequence(lambda n: f"user{n}")
    username_key = factory.LazyAttribute(lambda o: o.username.lower())
    email = factory.LazyAttribute(lambda o: f"{o.username.lower()}@example.com")
    name = factory.Faker("name")
    role = Role.author
    is_active = True
    password = DEFAULT_PASSWORD
    hashed_password = factory.LazyAttribute(lambda o: hash_password(o.password))
