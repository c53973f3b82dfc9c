"""The admin commands (``blog tenants``, ``blog users``; ``blog export``/``import`` in
tests/test_transfer.py), run the way an operator runs them: through the ``blog`` command
against the test database (on PostgreSQL as the unprivileged app role, under row-level
security)."""

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import typer
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from blog import cli
from blog.auth.security import PasswordHasher
from blog.database import utcnow
from blog.keys.models import KeyKind
from blog.models import metadata
from blog.settings import get_settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.cli import (
    Blog,
    add_login,
    count,
    export_of,
    get_user,
    live_tokens,
    one_line,
    populate,
    said,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    ApiKeyFactory,
    MediaFactory,
    TenantFactory,
    UserFactory,
)

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
    "post_revisions",
    "post_autosaves",
    "media",
)
LONG_PASSWORD = "é" * 37  # 37 characters, 74 bytes in UTF-8: over bcrypt's 72

pytestmark = pytest.mark.usefixtures("cli_settings")


# --- every command --------------------------------------------------------------------------


def every_command(command: object, path: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Every ``blog`` command, read from the app: a new one cannot be left out here."""
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in sorted(command.commands.items()):
            yield from every_command(sub, (*path, name))
    else:
        yield list(path)


COMMANDS = list(every_command(typer.main.get_command(cli.app)))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli.app, [*command, "--help"])

    assert result.exit_code == 0
    assert f"Example: blog {' '.join(command)}" in said(result)
    assert "--database-url" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "nope://somewhere",
        "not a url",
        "sqlite:////no/such/directory/blog.db",
        "mysql://blog@localhost/blog",  # a driver that is not installed
    ],
)
@pytest.mark.parametrize(
    "command", [["tenants", "list"], ["tenants", "show", "x"], ["db", "upgrade"]], ids=str
)
def test_a_bad_database_url_is_one_clean_error(blog: Blog, url: str, command: list[str]) -> None:
    result = blog(*command, url=url)

    assert result.exit_code == 1
    assert "Error:" in one_line(result)


def test_a_database_url_without_its_driver_says_so(blog: Blog) -> None:
    result = blog("tenants", "list", url="mysql://blog@localhost/blog")

    assert "driver (MySQLdb) is not installed" in one_line(result)


def test_a_bad_setting_is_named(blog: Blog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_ACCESS_TOKEN_MINUTES", "abc")
    get_settings.cache_clear()

    result = blog("tenants", "list")

    assert result.exit_code == 2
    assert "BLOG_ACCESS_TOKEN_MINUTES: Input should be a valid integer" in one_line(result)


# --- a database the migrations have not set up ----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["tenants", "list"],
        ["tenants", "show", "acme"],
        ["users", "unlock", "--tenant", "acme", "ann"],
        ["keys", "list", "--tenant", "acme"],
        ["export", "acme"],
        ["demo"],
    ],
    ids=" ".join,
)
def test_an_unmigrated_database_says_to_migrate_it(
    blog: Blog, empty_database_url: str, command: list[str]
) -> None:
    result = blog(*command, url=empty_database_url)

    assert result.exit_code == 1
    assert one_line(result) == (
        "Error: the database has no migrations applied; run: blog db upgrade"
    )


def test_a_database_behind_the_migrations_says_to_migrate_it(
    blog: Blog, empty_database_url: str
) -> None:
    assert blog("db", "upgrade", "+1", url=empty_database_url).exit_code == 0

    result = blog("tenants", "list", url=empty_database_url)

    assert "not the newest; run: blog db upgrade" in one_line(result)


@pytest.mark.parametrize("revision", [["head"], ["--revision", "head"]], ids=" ".join)
def test_db_upgrade_takes_the_revision_as_the_readme_shows(
    blog: Blog, empty_database_url: str, revision: list[str]
) -> None:
    assert blog("db", "upgrade", *revision, url=empty_database_url).exit_code == 0

    result = blog("tenants", "list", url=empty_database_url)

    assert result.exit_code == 0, result.output
    assert "No blogs yet" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["db", "upgrade", "zzz"],
        ["db", "upgrade", "--revision", "zzz"],
        ["db", "downgrade", "zzz"],
    ],
    ids=" ".join,
)
def test_an_unknown_revision_is_one_clean_error(
    blog: Blog, empty_database_url: str, command: list[str]
) -> None:
    result = blog(*command, url=empty_database_url)

    assert result.exit_code == 1
    assert one_line(result) == "Error: Can't locate revision identified by 'zzz'"


def test_db_upgrade_takes_the_revision_once(blog: Blog, empty_database_url: str) -> None:
    result = blog("db", "upgrade", "head", "--revision", "head", url=empty_database_url)

    assert "give the revision once" in one_line(result)


# --- blog serve -----------------------------------------------------------------------------


def test_serve_hands_its_database_url_to_the_workers(
    blog: Blog, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers build the app from the environment (uvicorn's factory), not from argv."""
    monkeypatch.setenv("BLOG_DATABASE_URL", "sqlite:///./not-this.db")
    monkeypatch.setenv("BLOG_MIGRATION_DATABASE_URL", "sqlite:///./nor-this.db")
    served: dict[str, str | None] = {}

    def run(*_: object, **__: object) -> None:
        served["url"] = os.environ.get("BLOG_DATABASE_URL")
        served["owner_url"] = os.environ.get("BLOG_MIGRATION_DATABASE_URL")

    monkeypatch.setattr(uvicorn, "run", run)

    result = blog("serve")

    assert result.exit_code == 0, result.output
    assert served == {"url": database_url, "owner_url": None}


def test_serve_refuses_a_bad_database_url_in_one_line(blog: Blog) -> None:
    result = blog("serve", url="mysql://blog@localhost/blog")

    assert "driver (MySQLdb) is not installed" in one_line(result)


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
    MediaFactory(uploader=owner)  # its files: tests/test_media_transfer.py
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
        "tenant_versions": "1",
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
        "webhook_endpoints": "0",
        "webhook_deliveries": "0",
        "api_keys": "1",
        "post_revisions": "1",
        "post_autosaves": "1",
        "media": "1",
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
