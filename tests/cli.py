"""Running the ``blog`` command in tests the way an operator runs it, against the test
database (on PostgreSQL as the unprivileged app role, under row-level security), and the
data the admin-command tests share. A plugin (tests/conftest.py): a test module uses it
with ``pytestmark = pytest.mark.usefixtures("cli_settings")`` and the ``blog`` fixture."""

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from blog import cli
from blog.auth.models import RefreshToken
from blog.database import utcnow
from blog.models import metadata
from blog.posts.models import PostStatus
from blog.settings import get_settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.factories import (
    AuthSessionFactory,
    CommentFactory,
    FavoriteFactory,
    FollowFactory,
    PostAutosaveFactory,
    PostFactory,
    PostRevisionFactory,
    UserFactory,
)

Blog = Callable[..., Result]


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[None]:
    """Fast hashing, no stray configuration; ``engine`` empties the tables afterwards."""
    for name in ("BLOG_DATABASE_URL", "BLOG_MIGRATION_DATABASE_URL", "BLOG_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BLOG_BCRYPT_ROUNDS", "4")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def blog(database_url: str) -> Blog:
    """``blog("tenants", "show", "acme", input=...)``: run the command on the test database.

    Whatever the exit code, the command must end cleanly: no traceback, no uncaught error.
    """

    def run(*args: str, input: str | None = None, url: str | None = None) -> Result:
        result = CliRunner().invoke(
            cli.app, [*args, "--database-url", url or database_url], input=input
        )
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result

    return run


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def one_line(result: Result) -> str:
    """The one line a command that failed printed: what to do, no traceback."""
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def count(engine: Engine, table: str, tenant_id: uuid.UUID | None = None) -> int:
    """Rows of ``table`` (of one tenant), counted as the owner, past row-level security."""
    t = metadata.tables[table]
    query = sa.select(sa.func.count()).select_from(t)
    if tenant_id is not None:
        query = query.where(t.c.tenant_id == tenant_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def get_user(engine: Engine, tenant: Tenant | sa.Row[Any], login: str) -> dict[str, Any]:
    users = metadata.tables["users"]
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(users).where(
                users.c.tenant_id == tenant.id,
                sa.or_(users.c.email == login, users.c.username_key == login),
            )
        ).one()
    return dict(row._mapping)


def live_tokens(engine: Engine, user_id: uuid.UUID) -> int:
    tokens = metadata.tables["refresh_tokens"]
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(tokens)
                .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
            ).scalar_one()
        )


def add_login(session: Session, user: User) -> None:
    login = AuthSessionFactory(user=user)
    session.add(
        RefreshToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=login.id,
            token_hash=secrets.token_hex(32),
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    session.commit()


def populate(session: Session, tenant: Tenant) -> dict[str, User]:
    """A small blog using every column: owner, inactive editor with a profile, posts with
    ordered tags, a draft, a post whose author is gone, comments, a follow, a favorite,
    and a login."""
    owner = UserFactory(tenant=tenant, role=Role.owner, username="Owner")
    editor = UserFactory(
        tenant=tenant,
        role=Role.editor,
        bio="Edits things.",
        image="https://example.com/e.png",
        is_active=False,
    )
    post = PostFactory(author=owner, tags=["sql", "python", "news"])
    PostFactory(author=editor, tags=["python"], status=PostStatus.draft)
    orphan = PostFactory(author=editor)
    orphan.author_id = None
    session.add(orphan)
    session.commit()
    CommentFactory(post=post, author=editor)
    CommentFactory(post=post)
    FollowFactory(follower=editor, followed=owner)
    FavoriteFactory(post=post, user=editor)
    PostRevisionFactory(post=post, author=editor, tags=["sql", "python"])
    PostAutosaveFactory(post=post, user=editor, description="Working on it.", tags=["sql"])
    add_login(session, owner)
    return {"owner": owner, "editor": editor}


def export_of(blog: Blog, slug: str, url: str | None = None) -> dict[str, Any]:
    result = blog("export", slug, url=url)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    data.pop("exported_at")
    return data


def without_tenant_identity(data: dict[str, Any]) -> dict[str, Any]:
    tenant = {key: value for key, value in data["tenant"].items() if key not in ("id", "slug")}
    return {**data, "tenant": tenant}
