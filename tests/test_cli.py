"""The admin commands (``blog tenants``, ``blog users``, ``blog export``/``import``), run the
way an operator runs them: through the ``blog`` command against the test database (on
PostgreSQL as the unprivileged app role, under row-level security)."""

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from blog import cli
from blog.auth.models import RefreshToken
from blog.auth.security import PasswordHasher
from blog.cli.transfer import TABLES, TenantRow
from blog.database import create_db_engine, new_session, utcnow
from blog.keys.models import KeyKind
from blog.models import metadata
from blog.posts.models import PostStatus
from blog.settings import get_settings
from blog.tenancy import cross_tenant, tenant_models
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.factories import (
    DEFAULT_PASSWORD,
    ApiKeyFactory,
    AuthSessionFactory,
    CommentFactory,
    FavoriteFactory,
    FollowFactory,
    PostFactory,
    TenantFactory,
    UserFactory,
    bind_session,
)

Blog = Callable[..., Result]

TENANT_TABLES = (
    "users",
    "refresh_tokens",
    "tags",
    "posts",
    "post_tags",
    "comments",
    "follows",
    "favorites",
    "api_keys",
)
LONG_PASSWORD = "é" * 37  # 37 characters, 74 bytes in UTF-8: over bcrypt's 72


@pytest.fixture(autouse=True)
def _cli_settings(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[None]:
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


# --- every command --------------------------------------------------------------------------

COMMANDS = [
    ["tenants", "create"],
    ["tenants", "list"],
    ["tenants", "show"],
    ["tenants", "delete"],
    ["users", "create"],
    ["users", "set-role"],
    ["users", "deactivate"],
    ["users", "reset-password"],
    ["export"],
    ["import"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*command, "--help"])

    assert result.exit_code == 0
    assert f"Example: blog {' '.join(command)}" in said(result)
    assert "--database-url" in result.output


@pytest.mark.parametrize(
    "url",
    ["nope://somewhere", "not a url", "sqlite:////no/such/directory/blog.db"],
)
@pytest.mark.parametrize("command", [["tenants", "list"], ["tenants", "show", "x"]], ids=str)
def test_a_bad_database_url_is_one_clean_error(blog: Blog, url: str, command: list[str]) -> None:
    result = blog(*command, url=url)

    assert result.exit_code == 1
    assert "Error:" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["tenants", "show", "nope"],
        ["tenants", "delete", "nope", "--yes"],
        [
            "users",
            "create",
            "--tenant",
            "nope",
            "--email",
            "a@b.example",
            "--username",
            "a",
            "--password",
            "long-enough",
        ],
        ["users", "set-role", "--tenant", "nope", "ann", "editor"],
        ["users", "deactivate", "--tenant", "nope", "ann"],
        ["users", "reset-password", "--tenant", "nope", "ann", "--password-stdin"],
        ["export", "nope"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_an_unknown_blog_is_one_clean_error(blog: Blog, command: list[str]) -> None:
    result = blog(*command, input="long-enough\n")

    assert result.exit_code == 1
    assert "no blog with the slug 'nope'" in said(result)


# --- blog tenants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password_args", "stdin"),
    [
        (["--owner-password", "owner-password"], None),
        (["--password-stdin"], "owner-password\n"),
        ([], "owner-password\nowner-password\n"),  # the prompt, twice
    ],
    ids=["option", "stdin", "prompt"],
)
def test_tenants_create_makes_a_blog_and_its_owner(
    blog: Blog, owner_engine: Engine, password_args: list[str], stdin: str | None
) -> None:
    result = blog(
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme",
        "--owner-email",
        "Jo.Doe@Acme.example",
        *password_args,
        input=stdin,
    )

    assert result.exit_code == 0, result.output
    assert "owner-password" not in result.output  # never echoed
    tenants = metadata.tables["tenants"]
    with owner_engine.connect() as connection:
        tenant = connection.execute(sa.select(tenants).where(tenants.c.slug == "acme")).one()
    owner = get_user(owner_engine, tenant, "jo.doe@acme.example")
    assert (tenant.name, owner["username"], owner["role"]) == ("Acme", "jo.doe", Role.owner)
    assert PasswordHasher(rounds=4).verify("owner-password", owner["hashed_password"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taken", "--owner-password", "long-enough"], "slug is already taken"),
        (["Not A Slug", "--owner-password", "long-enough"], "invalid slug"),
        (
            ["fresh", "--owner-email", "nobody", "--owner-password", "long-enough"],
            "invalid owner.email",
        ),
        (
            ["fresh", "--owner-username", "no spaces", "--owner-password", "long-enough"],
            "invalid owner.username",
        ),
        (["fresh", "--owner-password", "short"], "at least 8 characters"),
        (["fresh", "--owner-password", LONG_PASSWORD], "at most 72 bytes"),
        (["fresh", "--owner-password", "long-enough", "--password-stdin"], "not both"),
    ],
    ids=["duplicate slug", "bad slug", "bad email", "bad username", "weak", "long", "both"],
)
def test_tenants_create_refuses_bad_input(
    blog: Blog, db: Session, owner_engine: Engine, args: list[str], message: str
) -> None:
    TenantFactory(slug="taken")
    if "--owner-email" not in args:
        args = [*args, "--owner-email", "me@acme.example"]

    result = blog("tenants", "create", *args, "--name", "Acme", input="long-enough\n")

    assert result.exit_code == 1
    assert message in said(result)
    assert LONG_PASSWORD not in result.output
    assert count(owner_engine, "tenants") == 1


def test_tenants_list_shows_every_blog_with_its_numbers(blog: Blog, db: Session) -> None:
    alpha = TenantFactory(slug="alpha", name="Alpha")
    populate(db, alpha)
    TenantFactory(slug="beta", name="Beta")

    result = blog("tenants", "list")

    assert result.exit_code == 0, result.output
    rows = [line.replace("│", " ").split() for line in result.output.splitlines()]
    assert ["alpha", "3", "3"] in [row[:1] + row[-2:] for row in rows]
    assert ["beta", "0", "0"] in [row[:1] + row[-2:] for row in rows]


def test_tenants_list_on_an_empty_database(blog: Blog) -> None:
    result = blog("tenants", "list")

    assert result.exit_code == 0
    assert "No blogs yet" in result.output


def test_tenants_show_counts_one_blogs_content(blog: Blog, db: Session) -> None:
    alpha = TenantFactory(slug="alpha", name="Alpha")
    populate(db, alpha)
    populate(db, TenantFactory(slug="beta"))

    result = blog("tenants", "show", "alpha")

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[-1] for line in result.output.splitlines() if line}
    assert lines["slug"] == "alpha"
    assert lines["id"] == str(alpha.id)
    assert (lines["users"], lines["posts"], lines["comments"], lines["tags"]) == (
        "3",
        "3",
        "2",
        "3",
    )


def test_tenants_delete_refuses_without_yes(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant
) -> None:
    populate(db, tenant)

    result = blog("tenants", "delete", tenant.slug)

    assert result.exit_code == 1
    assert "without --yes" in said(result)
    assert count(owner_engine, "tenants") == 1
    assert count(owner_engine, "users", tenant.id) == 3


def test_tenants_delete_removes_that_blog_and_nothing_else(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, other_tenant: Tenant
) -> None:
    owner = populate(db, tenant)["owner"]
    ApiKeyFactory(creator=owner, kind=KeyKind.admin)  # a key whose creator goes with it
    populate(db, other_tenant)
    other_before = export_of(blog, other_tenant.slug)
    other_counts = {table: count(owner_engine, table, other_tenant.id) for table in TENANT_TABLES}

    result = blog("tenants", "delete", tenant.slug, "--yes")

    assert result.exit_code == 0, result.output
    removed = {
        line.split()[1]: line.split()[3]
        for line in result.output.splitlines()
        if line.startswith("│")
    }
    assert removed == {
        "tenants": "1",
        "users": "3",
        "auth_sessions": "1",
        "refresh_tokens": "1",
        "account_tokens": "0",
        "tags": "3",
        "posts": "3",
        "post_tags": "4",
        "comments": "2",
        "follows": "1",
        "favorites": "1",
        "jobs": "0",
        "api_keys": "1",
    }
    assert all(count(owner_engine, table, tenant.id) == 0 for table in TENANT_TABLES)
    assert count(owner_engine, "tenants") == 1
    assert {table: count(owner_engine, table, other_tenant.id) for table in TENANT_TABLES} == (
        other_counts
    )
    assert export_of(blog, other_tenant.slug) == other_before


# --- blog users -----------------------------------------------------------------------------


def test_users_create_adds_an_account(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant
) -> None:
    result = blog(
        "users",
        "create",
        "--tenant",
        tenant.slug,
        "--email",
        "Ann@Acme.example",
        "--username",
        "Ann",
        "--role",
        "editor",
        "--password-stdin",
        input="ann-password\n",
    )

    assert result.exit_code == 0, result.output
    ann = get_user(owner_engine, tenant, "ann")
    assert (ann["email"], ann["username"], ann["role"]) == ("ann@acme.example", "Ann", Role.editor)
    assert PasswordHasher(rounds=4).verify("ann-password", ann["hashed_password"])


def test_users_create_prompts_for_the_password(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant
) -> None:
    result = blog(
        "users",
        "create",
        "--tenant",
        tenant.slug,
        "--email",
        "ann@acme.example",
        "--username",
        "ann",
        input="ann-password\nann-password\n",
    )

    assert result.exit_code == 0, result.output
    assert "ann-password" not in result.output
    assert get_user(owner_engine, tenant, "ann")["role"] == Role.author


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--email", "TAKEN@example.com", "--username", "new"], 1, "email is already registered"),
        (["--email", "new@example.com", "--username", "Taken"], 1, "username is already taken"),
        (["--email", "new@example.com", "--username", "new", "--role", "god"], 2, "'god'"),
        (["--email", "not-an-email", "--username", "new"], 1, "invalid email"),
        (
            ["--email", "new@example.com", "--username", "new", "--password", "short"],
            1,
            "at least 8 characters",
        ),
    ],
    ids=["duplicate email", "duplicate username", "bad role", "bad email", "weak password"],
)
def test_users_create_refuses_bad_input(
    blog: Blog,
    user: Callable[..., User],
    owner_engine: Engine,
    tenant: Tenant,
    args: list[str],
    code: int,
    message: str,
) -> None:
    user(username="taken", email="taken@example.com")
    if "--password" not in args:
        args = [*args, "--password", "long-enough"]

    result = blog("users", "create", "--tenant", tenant.slug, *args)

    assert result.exit_code == code
    assert message in said(result)
    assert count(owner_engine, "users") == 1


@pytest.mark.parametrize("login", ["ann@example.com", "ANN"])
def test_users_set_role_by_email_or_username(
    blog: Blog, user: Callable[..., User], owner_engine: Engine, tenant: Tenant, login: str
) -> None:
    user(username="ann", email="ann@example.com", role=Role.reader)

    result = blog("users", "set-role", "--tenant", tenant.slug, login, "admin")

    assert result.exit_code == 0, result.output
    assert "now admin" in said(result)
    assert get_user(owner_engine, tenant, "ann")["role"] == Role.admin


def test_users_set_role_keeps_the_last_active_owner(
    blog: Blog, user: Callable[..., User], owner_engine: Engine, tenant: Tenant
) -> None:
    user(username="boss", role=Role.owner)
    user(username="former", role=Role.owner, is_active=False)

    result = blog("users", "set-role", "--tenant", tenant.slug, "boss", "admin")

    assert result.exit_code == 1
    assert "at least one active owner" in said(result)
    assert get_user(owner_engine, tenant, "boss")["role"] == Role.owner


def test_users_set_role_demotes_an_owner_when_another_remains(
    blog: Blog, user: Callable[..., User], owner_engine: Engine, tenant: Tenant
) -> None:
    user(username="boss", role=Role.owner)
    user(username="other", role=Role.owner)

    result = blog("users", "set-role", "--tenant", tenant.slug, "boss", "reader")

    assert result.exit_code == 0, result.output
    assert get_user(owner_engine, tenant, "boss")["role"] == Role.reader


@pytest.mark.parametrize(
    "command",
    [["set-role", "ghost", "editor"], ["deactivate", "ghost"], ["reset-password", "ghost"]],
    ids=lambda command: command[0],
)
def test_users_commands_refuse_an_unknown_user(
    blog: Blog, user: Callable[..., User], tenant: Tenant, other_tenant: Tenant, command: list[str]
) -> None:
    user(username="ghost", tenant=other_tenant)  # another blog's account is no help

    result = blog("users", command[0], "--tenant", tenant.slug, *command[1:], input="x\n")

    assert result.exit_code == 1
    assert f"no user 'ghost' in the blog '{tenant.slug}'" in said(result)


def test_users_deactivate_ends_every_login(
    blog: Blog,
    db: Session,
    user: Callable[..., User],
    owner_engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    ann = user(username="ann")
    add_login(db, ann)
    add_login(db, ann)
    namesake = user(username="ann", tenant=other_tenant)
    add_login(db, namesake)

    result = blog("users", "deactivate", "--tenant", tenant.slug, "ann")

    assert result.exit_code == 0, result.output
    assert get_user(owner_engine, tenant, "ann")["is_active"] is False
    assert live_tokens(owner_engine, ann.id) == 0
    assert get_user(owner_engine, other_tenant, "ann")["is_active"] is True
    assert live_tokens(owner_engine, namesake.id) == 1


def test_users_deactivate_keeps_the_last_active_owner(
    blog: Blog, user: Callable[..., User], owner_engine: Engine, tenant: Tenant
) -> None:
    user(username="boss", role=Role.owner)

    result = blog("users", "deactivate", "--tenant", tenant.slug, "boss")

    assert result.exit_code == 1
    assert "at least one active owner" in said(result)
    assert get_user(owner_engine, tenant, "boss")["is_active"] is True


@pytest.mark.parametrize(
    ("args", "stdin"),
    [([], "new-password\nnew-password\n"), (["--password-stdin"], "new-password\n")],
    ids=["prompt twice", "stdin"],
)
def test_users_reset_password_sets_it_and_ends_every_login(
    blog: Blog,
    db: Session,
    user: Callable[..., User],
    owner_engine: Engine,
    tenant: Tenant,
    args: list[str],
    stdin: str,
) -> None:
    ann = user(username="ann")
    add_login(db, ann)

    result = blog("users", "reset-password", "--tenant", tenant.slug, "ann", *args, input=stdin)

    assert result.exit_code == 0, result.output
    assert "new-password" not in result.output
    hashed = get_user(owner_engine, tenant, "ann")["hashed_password"]
    assert PasswordHasher(rounds=4).verify("new-password", hashed)
    assert live_tokens(owner_engine, ann.id) == 0


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("short\n", "at least 8 characters"),
        (LONG_PASSWORD + "\n", "at most 72 bytes"),
        ("\n", "no password"),
    ],
    ids=["weak", "long", "empty"],
)
def test_users_reset_password_refuses_a_bad_password(
    blog: Blog,
    db: Session,
    user: Callable[..., User],
    owner_engine: Engine,
    tenant: Tenant,
    stdin: str,
    message: str,
) -> None:
    ann = user(username="ann")
    add_login(db, ann)

    result = blog(
        "users", "reset-password", "--tenant", tenant.slug, "ann", "--password-stdin", input=stdin
    )

    assert result.exit_code == 1
    assert message in said(result)
    hashed = get_user(owner_engine, tenant, "ann")["hashed_password"]
    assert PasswordHasher(rounds=4).verify(DEFAULT_PASSWORD, hashed)
    assert live_tokens(owner_engine, ann.id) == 1


def test_users_reset_password_prompt_needs_the_same_password_twice(
    blog: Blog, user: Callable[..., User], owner_engine: Engine, tenant: Tenant
) -> None:
    user(username="ann")

    result = blog(
        "users", "reset-password", "--tenant", tenant.slug, "ann", input="new-password\nother\n"
    )

    assert result.exit_code != 0
    assert "do not match" in result.output
    hashed = get_user(owner_engine, tenant, "ann")["hashed_password"]
    assert PasswordHasher(rounds=4).verify(DEFAULT_PASSWORD, hashed)


# --- blog keys ------------------------------------------------------------------------------


def key_rows(engine: Engine, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    keys = metadata.tables["api_keys"]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(keys).where(keys.c.tenant_id == tenant_id))
        return [dict(row._mapping) for row in rows]


def test_keys_create_prints_the_key_once_and_stores_its_hash(
    blog: Blog, db: Session, tenant: Tenant, owner_engine: Engine
) -> None:
    result = blog("keys", "create", "--tenant", tenant.slug, "--kind", "content", "--name", "site")

    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("blog_ck_")
    (row,) = key_rows(owner_engine, tenant.id)
    assert row["secret_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith("blog_ck_" + row["prefix"])

    listed = blog("keys", "list", "--tenant", tenant.slug)
    assert listed.exit_code == 0, listed.output
    assert row["prefix"] in listed.output
    assert key not in listed.output
    assert key.removeprefix("blog_ck_" + row["prefix"]) not in listed.output


def test_keys_create_an_admin_key_acting_as_an_admin(
    blog: Blog, db: Session, tenant: Tenant, owner_engine: Engine
) -> None:
    UserFactory(tenant=tenant, role=Role.owner, username="ann")
    UserFactory(tenant=tenant, role=Role.author, username="bob")
    args = ("keys", "create", "--tenant", tenant.slug, "--kind", "admin", "--name", "deploy")

    nobody = blog(*args, "--scope", "posts:write")
    author = blog(*args, "--scope", "posts:write", "--as", "bob")
    no_scope = blog(*args, "--as", "ann")
    bad_scope = blog(*args, "--scope", "keys:everything", "--as", "ann")
    made = blog(*args, "--scope", "posts:write", "--scope", "posts:read", "--as", "ann")

    for refused in (nobody, author):
        assert refused.exit_code == 1
        assert "Admin keys act as an admin or owner" in said(refused)
    assert no_scope.exit_code == 1
    assert "at least one scope" in said(no_scope)
    assert bad_scope.exit_code == 2
    assert made.exit_code == 0, made.output
    assert made.output.strip().splitlines()[-1].startswith("blog_ak_")
    (row,) = key_rows(owner_engine, tenant.id)
    assert row["scopes"] == ["posts:read", "posts:write"]
    assert "scopes=posts:read,posts:write" in said(blog("keys", "list", "--tenant", tenant.slug))


def test_keys_revoke_by_prefix_or_id_in_its_own_blog_only(
    blog: Blog, db: Session, tenant: Tenant, other_tenant: Tenant, owner_engine: Engine
) -> None:
    first = ApiKeyFactory(tenant=tenant)
    second = ApiKeyFactory(tenant=tenant)
    foreign = ApiKeyFactory(tenant=other_tenant)

    by_prefix = blog("keys", "revoke", "--tenant", tenant.slug, first.prefix)
    by_id = blog("keys", "revoke", "--tenant", tenant.slug, str(second.id))
    again = blog("keys", "revoke", "--tenant", tenant.slug, first.prefix)
    other = blog("keys", "revoke", "--tenant", tenant.slug, str(foreign.id))
    other_prefix = blog("keys", "revoke", "--tenant", tenant.slug, foreign.prefix)

    assert (by_prefix.exit_code, by_id.exit_code, again.exit_code) == (0, 0, 0)
    assert "already revoked" in said(again)
    for refused in (other, other_prefix):
        assert refused.exit_code == 1
        assert "No such API key" in said(refused)
    assert all(row["revoked_at"] is not None for row in key_rows(owner_engine, tenant.id))
    assert key_rows(owner_engine, other_tenant.id)[0]["revoked_at"] is None
    assert "revoked" in said(blog("keys", "list", "--tenant", tenant.slug))


# --- blog export / import -------------------------------------------------------------------


def test_the_export_format_covers_every_column_but_tenant_id() -> None:
    assert set(TenantRow.model_fields) == set(metadata.tables["tenants"].columns.keys())
    # Lockout counters and token generations belong to this deployment's logins.
    not_exported = {"tenant_id", "failed_logins", "locked_until", "token_generation"}
    for name, _model, row in TABLES:
        assert set(row.model_fields) == set(metadata.tables[name].columns.keys()) - not_exported
    exported = {name for name, _, _ in TABLES}
    owned = {str(model.__tablename__) for model in tenant_models()}
    # Logins and mailed links are credentials of this deployment: never exported; jobs are
    # this deployment's work in flight.
    # API keys are credentials of this deployment too.
    not_carried = {"refresh_tokens", "auth_sessions", "account_tokens", "jobs", "api_keys"}
    assert exported == owned - not_carried, "a tenant-owned table is not exported"


def test_export_holds_one_blog_whole_and_nothing_of_another(
    blog: Blog, db: Session, tenant: Tenant, other_tenant: Tenant
) -> None:
    people = populate(db, tenant)
    populate(db, other_tenant)

    data = export_of(blog, tenant.slug)

    assert (data["format"], data["version"]) == ("blog-tenant-export", 3)
    assert data["tenant"]["id"] == str(tenant.id)
    tables = ("users", "tags", "posts", "post_tags", "comments", "follows", "favorites")
    assert [len(data[name]) for name in tables] == [3, 3, 3, 4, 2, 1, 1]
    assert "refresh_tokens" not in data
    owner = next(row for row in data["users"] if row["id"] == str(people["owner"].id))
    assert owner["hashed_password"] == people["owner"].hashed_password
    assert owner["created_at"].endswith("Z")
    orphan = [post for post in data["posts"] if post["author_id"] is None]
    assert len(orphan) == 1
    positions = sorted((row["post_id"], row["position"]) for row in data["post_tags"])
    assert [position for _, position in positions] == [0, 1, 2, 0]


def test_export_writes_a_file(blog: Blog, db: Session, tenant: Tenant, tmp_path: Path) -> None:
    populate(db, tenant)
    target = tmp_path / "blog.json"

    result = blog("export", tenant.slug, "--output", str(target))

    assert result.exit_code == 0, result.output
    assert "3 users" in said(result)
    assert json.loads(target.read_text())["tenant"]["slug"] == tenant.slug


def test_export_then_import_under_a_new_slug_round_trips(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
    tmp_path: Path,
) -> None:
    populate(db, tenant)
    populate(db, other_tenant)
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0

    result = blog("import", str(file), "--as", "copy")

    assert result.exit_code == 0, result.output
    assert "got a new one" in said(result)  # the original's id is taken in this database
    original, copy = export_of(blog, tenant.slug), export_of(blog, "copy")
    assert copy["tenant"]["slug"] == "copy"
    assert copy["tenant"]["id"] != original["tenant"]["id"]
    assert without_tenant_identity(copy) == without_tenant_identity(original)
    assert count(owner_engine, "refresh_tokens") == 2  # none came with the copy


def test_a_version_2_export_imports_with_default_account_settings(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    """Files written before accounts had settings and verification still import: members
    unverified, the blog with the default settings."""
    populate(db, tenant)
    data = {**export_of(blog, tenant.slug), "exported_at": "2026-11-30T12:00:00Z"}
    data["version"] = 2
    for name in ("require_verified_email", "lockout_threshold", "frontend_url"):
        del data["tenant"][name]
    for row in data["users"]:
        del row["email_verified_at"]
    file = tmp_path / "old.json"
    file.write_text(json.dumps(data), encoding="utf-8")

    result = blog("import", str(file), "--as", "old-copy")

    assert result.exit_code == 0, result.output
    copy = export_of(blog, "old-copy")
    assert (copy["version"], copy["tenant"]["lockout_threshold"]) == (3, 5)
    assert copy["tenant"]["require_verified_email"] is False
    assert all(row["email_verified_at"] is None for row in copy["users"])


def test_account_settings_and_verification_move_with_a_blog(
    blog: Blog, db: Session, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    tenant.require_verified_email, tenant.lockout_threshold = True, 7
    tenant.frontend_url = "https://acme.example"
    db.add(tenant)
    db.commit()
    before = export_of(blog, tenant.slug)
    assert blog("tenants", "delete", tenant.slug, "--yes").exit_code == 0

    path = tmp_path / "moved.json"
    moved = {**before, "exported_at": "2026-12-01T12:00:00Z"}
    path.write_text(json.dumps(moved), encoding="utf-8")
    assert blog("import", str(path)).exit_code == 0

    after = export_of(blog, tenant.slug)
    assert after["tenant"] == before["tenant"]
    assert [u["email_verified_at"] for u in after["users"]] == [
        u["email_verified_at"] for u in before["users"]
    ]


def test_users_unlock_lifts_a_lockout(
    blog: Blog,
    db: Session,
    user: Callable[..., User],
    owner_engine: Engine,
    tenant: Tenant,
) -> None:
    ann = user(username="ann", failed_logins=9, locked_until=utcnow() + timedelta(hours=1))

    result = blog("users", "unlock", "--tenant", tenant.slug, "ann")

    assert result.exit_code == 0, result.output
    assert "Unlocked ann" in said(result)
    row = get_user(owner_engine, tenant, "ann")
    assert (row["failed_logins"], row["locked_until"]) == (0, None)
    assert ann.id == row["id"]


def test_users_unlock_of_an_unknown_account_is_one_line(blog: Blog, tenant: Tenant) -> None:
    result = blog("users", "unlock", "--tenant", tenant.slug, "nobody")

    assert result.exit_code == 1
    assert "no user 'nobody'" in said(result)
    assert "Traceback" not in result.output


def test_a_moved_blog_keeps_its_id_and_its_users_log_in(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    populate(db, tenant)
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0
    before = export_of(blog, tenant.slug)
    assert blog("tenants", "delete", tenant.slug, "--yes").exit_code == 0

    result = blog("import", str(file))

    assert result.exit_code == 0, result.output
    assert export_of(blog, tenant.slug) == before
    owner = get_user(owner_engine, tenant, "owner")
    assert PasswordHasher(rounds=4).verify(DEFAULT_PASSWORD, owner["hashed_password"])


def test_import_refuses_a_slug_that_exists(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0

    result = blog("import", str(file))

    assert result.exit_code == 1
    assert "already exists" in said(result)
    assert "--as" in said(result)
    assert count(owner_engine, "tenants") == 1


def test_import_refuses_a_bad_new_slug(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0

    result = blog("import", str(file), "--as", "Not A Slug")

    assert result.exit_code == 1
    assert "invalid slug 'Not A Slug'" in said(result)
    assert "[a-z0-9]" in said(result)  # the pattern survives rich's markup
    assert count(owner_engine, "tenants") == 1


def test_import_is_all_or_nothing(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    data = export_of(blog, tenant.slug)
    data["exported_at"] = "2026-01-01T00:00:00Z"
    data["comments"][-1]["post_id"] = str(uuid.uuid4())  # the last row inserted is broken
    file = tmp_path / "broken.json"
    file.write_text(json.dumps(data))

    result = blog("import", str(file), "--as", "broken")

    assert result.exit_code == 1
    assert "database refused" in said(result)
    assert count(owner_engine, "tenants") == 1
    assert count(owner_engine, "users") == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda _: "{not json", "not a JSON file"),
        (lambda data: {**data, "format": "other"}, "not a blog export"),
        (lambda data: {**data, "version": 1}, "version 1 is not supported"),
        (
            lambda data: {**data, "users": [{**data["users"][0], "role": "god"}]},
            "invalid users.0.role",
        ),
        (
            lambda data: {
                **data,
                "posts": [{k: v for k, v in data["posts"][0].items() if k != "title"}],
            },
            "invalid posts.0.title: Field required",
        ),
        (
            lambda data: {
                **data,
                "tenant": {**data["tenant"], "created_at": "2026-01-01T00:00:00"},
            },
            "invalid tenant.created_at",
        ),
        (
            lambda data: {**data, "tags": [{**data["tags"][0], "tenant_id": str(uuid.uuid4())}]},
            "invalid tags.0.tenant_id",
        ),
    ],
    ids=[
        "not json",
        "other format",
        "other version",
        "bad role",
        "missing column",
        "naive time",
        "tenant_id smuggled",
    ],
)
def test_import_refuses_a_malformed_file(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
    edit: Callable[[dict[str, Any]], Any],
    message: str,
) -> None:
    populate(db, tenant)
    data = export_of(blog, tenant.slug)
    data["exported_at"] = "2026-01-01T00:00:00Z"
    edited = edit(data)
    file = tmp_path / "bad.json"
    file.write_text(edited if isinstance(edited, str) else json.dumps(edited))

    result = blog("import", str(file), "--as", "fresh")

    assert result.exit_code == 1
    assert message in said(result)
    assert count(owner_engine, "tenants") == 1


def test_import_reads_standard_input(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant
) -> None:
    populate(db, tenant)
    exported = blog("export", tenant.slug).stdout

    result = blog("import", "-", "--as", "piped", input=exported)

    assert result.exit_code == 0, result.output
    assert count(owner_engine, "tenants") == 2


def test_import_of_a_missing_file_is_a_clean_error(blog: Blog, tmp_path: Path) -> None:
    result = blog("import", str(tmp_path / "missing.json"))

    assert result.exit_code == 1
    assert "cannot read" in said(result)


def test_a_blog_moves_from_a_sqlite_database_to_this_one(
    blog: Blog, database_backend: str, tmp_path: Path
) -> None:
    """From a fresh SQLite deployment to the test database (PostgreSQL with --db postgres)."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    assert blog("db", "upgrade", url=source).exit_code == 0
    source_engine = create_db_engine(source)
    try:
        with new_session(source_engine) as session, cross_tenant(session, "arranging the source"):
            bind_session(session)
            try:
                populate(session, TenantFactory(slug="moving", name="Moving"))
            finally:
                bind_session(None)
    finally:
        source_engine.dispose()
    file = tmp_path / "moving.json"
    assert blog("export", "moving", "-o", str(file), url=source).exit_code == 0

    result = blog("import", str(file))

    assert result.exit_code == 0, result.output
    assert export_of(blog, "moving") == export_of(blog, "moving", url=source)
