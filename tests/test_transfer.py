"""``blog export`` and ``blog import``, run the way an operator runs them, and the
declaration of what moves with a blog (:mod:`blog.tenants.transfer`): every tenant-owned
table is carried or left behind for a stated reason, rows carry their model's columns,
secrets move only when asked for, and scheduled posts still publish on time."""

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.auth.security import PasswordHasher
from blog.bulk import table_of
from blog.database import create_db_engine, new_session, utcnow
from blog.models import metadata
from blog.posts.models import Comment, Favorite, PostStatus
from blog.tenancy import cross_tenant, tenant_models
from blog.tenants import transfer
from blog.tenants.models import Tenant
from blog.tenants.transfer import NOT_EXPORTED, TABLES, TENANT, Exported
from blog.users.models import User
from tests.cli import (
    Blog,
    count,
    export_of,
    get_user,
    populate,
    said,
    without_tenant_identity,
)
from tests.factories import (
    DEFAULT_PASSWORD,
    PostFactory,
    TenantFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    bind_session,
)
from tests.test_posts import list_posts, listed_ids, read_post

pytestmark = pytest.mark.usefixtures("cli_settings")

UNUSABLE = "!made-on-import"


def tenant_owned_tables() -> set[str]:
    """Every table of a blog's rows: the tenant-scoped models, and any other table keyed
    by ``tenant_id``."""
    scoped = {table_of(model).name for model in tenant_models()}
    keyed = {table.name for table in metadata.tables.values() if "tenant_id" in table.c}
    return scoped | keyed


def with_secrets() -> tuple[Exported, ...]:
    """TABLES as if users' password hashes (with a generator) and comments' edit times
    (with the model's default factory) were secrets: the generic path webhook signing
    secrets will take."""
    users = Exported(
        User,
        left_out={"failed_logins", "locked_until", "token_generation"},
        columns_since={"email_verified_at": 3},
        secret={"hashed_password"},
        fresh={"hashed_password": lambda: UNUSABLE},
    )
    comments = Exported(Comment, secret={"updated_at"})
    replaced = {User: users, Comment: comments}
    return tuple(replaced.get(table.model, table) for table in TABLES)


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- what moves with a blog -----------------------------------------------------------------


def test_every_tenant_owned_table_is_exported_or_left_behind_for_a_reason() -> None:
    exported = [table.name for table in TABLES]

    assert len(exported) == len(set(exported))
    assert not set(exported) & set(NOT_EXPORTED)
    assert set(exported) | set(NOT_EXPORTED) == tenant_owned_tables(), (
        "a tenant-owned table is neither in TABLES nor in NOT_EXPORTED"
    )
    assert all(reason.strip() for reason in NOT_EXPORTED.values())
    # Logins, mailed links and API keys are credentials of this deployment; jobs and webhook
    # deliveries its work in flight.
    assert {
        "refresh_tokens",
        "auth_sessions",
        "account_tokens",
        "api_keys",
        "jobs",
        "webhook_deliveries",
    } <= set(NOT_EXPORTED)


def test_exported_rows_carry_every_column_of_their_model_but_those_left_out() -> None:
    assert set(TENANT.row_model().model_fields) == set(metadata.tables["tenants"].columns.keys())
    # Lockout counters and token generations belong to this deployment's logins; a secret
    # rotation's overlap to this deployment's receivers.
    assert {table.name: set(table.left_out) for table in TABLES if table.left_out} == {
        "users": {"failed_logins", "locked_until", "token_generation"},
        "posts": {"search_tags"},  # derived from the tag links, made again on import
        "webhook_endpoints": {"previous_secret", "previous_secret_expires_at"},
    }
    assert {table.name: set(table.secret) for table in TABLES if table.secret} == {
        "webhook_endpoints": {"secret"}
    }
    for table in TABLES:
        columns = set(metadata.tables[table.name].columns.keys()) - {"tenant_id"}
        carried = columns - set(table.left_out)
        assert set(table.row_model(secrets=True).model_fields) == carried, table.name
        assert set(table.row_model().model_fields) == carried - set(table.secret), table.name


def test_tables_are_exported_in_foreign_key_order() -> None:
    names = [table.name for table in TABLES]
    for index, table in enumerate(TABLES):
        targets = {key.column.table.name for key in table_of(table.model).foreign_keys}
        assert targets - {"tenants", table.name} <= set(names[:index]), table.name


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: Exported(User, left_out={"password"}), "users has no column password"),
        (lambda: Exported(Comment, secret={"text"}), "secret names text"),
        (lambda: Exported(Comment, secret={"body"}), "give fresh="),
        (lambda: Exported(User, columns_since={"failed_login": 3}), "columns_since names"),
        (lambda: Exported(Comment, columns_since={"body": 3}), "need a default"),
    ],
    ids=[
        "left out",
        "secret",
        "secret without a generator",
        "columns since",
        "columns since without a default",
    ],
)
def test_a_declaration_naming_what_the_model_lacks_is_refused(
    declare: Callable[[], Exported], message: str
) -> None:
    """A renamed or removed column fails where TABLES is declared, not in a user's import."""
    with pytest.raises(ValueError, match=message):
        declare()


def test_a_column_added_later_gets_the_models_default_in_older_files_row_by_row() -> None:
    comments = Exported(Comment, columns_since={"id": 5})
    row = {
        "post_id": str(uuid.uuid4()),
        "number": 1,
        "author_id": str(uuid.uuid4()),
        "body": "Hi.",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }

    old = [comments.row_model(version=4).model_validate_json(json.dumps(row)) for _ in range(2)]

    assert old[0].id != old[1].id  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="id\n  Field required"):
        comments.row_model(version=5).model_validate_json(json.dumps(row))


# --- blog export / import -------------------------------------------------------------------


def test_export_holds_one_blog_whole_and_nothing_of_another(
    blog: Blog, db: Session, tenant: Tenant, other_tenant: Tenant
) -> None:
    people = populate(db, tenant)
    populate(db, other_tenant)

    data = export_of(blog, tenant.slug)

    assert (data["format"], data["version"], data["secrets"]) == ("blog-tenant-export", 6, False)
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
    del data["secrets"]
    for name in ("require_verified_email", "lockout_threshold", "frontend_url", "search_language"):
        del data["tenant"][name]
    for row in data["users"]:
        del row["email_verified_at"]
    file = tmp_path / "old.json"
    file.write_text(json.dumps(data), encoding="utf-8")

    result = blog("import", str(file), "--as", "old-copy")

    assert result.exit_code == 0, result.output
    copy = export_of(blog, "old-copy")
    assert (copy["version"], copy["tenant"]["lockout_threshold"]) == (6, 5)
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


def test_a_version_3_export_imports_whole(
    blog: Blog, db: Session, tenant: Tenant, tmp_path: Path
) -> None:
    """Version 4 only added "secrets": a file from before it imports as it was."""
    populate(db, tenant)
    current = export_of(blog, tenant.slug)
    data = {**current, "version": 3, "exported_at": "2026-12-01T12:00:00Z"}
    del data["secrets"]

    result = blog("import", str(write(tmp_path / "v3.json", data)), "--as", "v3-copy")

    assert result.exit_code == 0, result.output
    copy = export_of(blog, "v3-copy")
    assert without_tenant_identity(copy) == without_tenant_identity(current)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda data: {**data, "users": [{**data["users"][0], "username": "u" * 33}]},
            "invalid users.0.username: String should have at most 32 characters",
        ),
        (
            lambda data: {
                **data,
                "posts": [{**data["posts"][0], "status": "scheduled", "published_at": None}],
            },
            "invalid posts.0: Value error, a scheduled post needs its published_at",
        ),
        (lambda data: {**data, "secrets": "no"}, '"secrets" must be true or false'),
        (lambda data: {**data, "version": "4"}, "version '4' is not supported"),
        (
            lambda data: {**data, "users": [{**data["users"][0], "failed_logins": 3}]},
            "invalid users.0.failed_logins",
        ),
        (
            lambda data: {**data, "posts": [{**data["posts"][0], "search_tags": "sql"}]},
            "invalid posts.0.search_tags",
        ),
        (
            lambda data: {**data, "tenant": {**data["tenant"], "search_language": "klingon"}},
            "invalid tenant: Value error, unknown search language 'klingon'",
        ),
    ],
    ids=[
        "too long",
        "scheduled undated",
        "secrets not a bool",
        "version as text",
        "left-out column",
        "derived column",
        "unknown language",
    ],
)
def test_import_refuses_a_file_its_model_forbids(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
    edit: Callable[[dict[str, Any]], Any],
    message: str,
) -> None:
    """The checks that come from the models: lengths, the post's own rule, the header."""
    populate(db, tenant)
    data = {**export_of(blog, tenant.slug), "exported_at": "2026-01-01T00:00:00Z"}

    result = blog("import", str(write(tmp_path / "bad.json", edit(data))), "--as", "fresh")

    assert result.exit_code == 1
    assert message in said(result)
    assert count(owner_engine, "tenants") == 1
    assert count(owner_engine, "jobs") == 0


# --- secrets --------------------------------------------------------------------------------


@pytest.fixture
def secret_tables(monkeypatch: pytest.MonkeyPatch) -> tuple[Exported, ...]:
    tables = with_secrets()
    monkeypatch.setattr(transfer, "TABLES", tables)
    return tables


def stored(owner_engine: Engine, table: str, tenant_id: uuid.UUID, column: str) -> list[Any]:
    t = metadata.tables[table]
    with owner_engine.connect() as connection:
        query = sa.select(t.c[column]).where(t.c.tenant_id == tenant_id).order_by(t.c.id)
        return list(connection.execute(query).scalars())


def tenant_id_of(owner_engine: Engine, slug: str) -> uuid.UUID:
    tenants = metadata.tables["tenants"]
    with owner_engine.connect() as connection:
        found: uuid.UUID = connection.execute(
            sa.select(tenants.c.id).where(tenants.c.slug == slug)
        ).scalar_one()
        return found


@pytest.mark.usefixtures("secret_tables")
def test_secrets_stay_out_of_an_export_and_an_import_makes_new_ones(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    file = tmp_path / "a.json"
    before_import = utcnow()

    exported = blog("export", tenant.slug, "-o", str(file))
    result = blog("import", str(file), "--as", "copy")

    assert exported.exit_code == 0, exported.output
    data = json.loads(file.read_text())
    assert data["secrets"] is False
    assert all("hashed_password" not in row for row in data["users"])
    assert all("updated_at" not in row for row in data["comments"])
    assert result.exit_code == 0, result.output
    assert "new ones were made for users.hashed_password, comments.updated_at" in said(result)
    copy = tenant_id_of(owner_engine, "copy")
    assert stored(owner_engine, "users", copy, "hashed_password") == [UNUSABLE] * 3
    assert all(at >= before_import for at in stored(owner_engine, "comments", copy, "updated_at"))
    assert stored(owner_engine, "users", copy, "email") == stored(
        owner_engine, "users", tenant.id, "email"
    )


@pytest.mark.usefixtures("secret_tables")
def test_an_export_with_its_secrets_moves_them(
    blog: Blog, db: Session, owner_engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    file = tmp_path / "a.json"

    exported = blog("export", tenant.slug, "--include-secrets", "-o", str(file))
    result = blog("import", str(file), "--as", "copy")

    assert exported.exit_code == 0, exported.output
    assert "holds its secrets too" in said(exported)
    data = json.loads(file.read_text())
    assert data["secrets"] is True
    assert all(row["hashed_password"].startswith("$2") for row in data["users"])
    assert result.exit_code == 0, result.output
    assert "new ones were made" not in said(result)
    copy = tenant_id_of(owner_engine, "copy")
    for table, column in (("users", "hashed_password"), ("comments", "updated_at")):
        assert stored(owner_engine, table, copy, column) == stored(
            owner_engine, table, tenant.id, column
        )
    hashes = stored(owner_engine, "users", copy, "hashed_password")
    assert all(PasswordHasher(rounds=4).verify(DEFAULT_PASSWORD, hashed) for hashed in hashes)


@pytest.mark.usefixtures("secret_tables")
@pytest.mark.parametrize(
    ("secrets", "edit", "message"),
    [
        (False, lambda row: {**row, "hashed_password": "x"}, "users.0.hashed_password: Extra"),
        (
            True,
            lambda row: {k: v for k, v in row.items() if k != "hashed_password"},
            "users.0.hashed_password: Field required",
        ),
    ],
    ids=["a secret it says it lacks", "no secret where it says it has them"],
)
def test_a_file_holds_its_secrets_exactly_as_it_says(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
    secrets: bool,
    edit: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
) -> None:
    populate(db, tenant)
    flags = ["--include-secrets"] if secrets else []
    data = json.loads(blog("export", tenant.slug, *flags).stdout)
    data["users"] = [edit(row) for row in data["users"]]

    result = blog("import", str(write(tmp_path / "bad.json", data)), "--as", "fresh")

    assert result.exit_code == 1
    assert message in said(result)
    assert count(owner_engine, "tenants") == 1


def test_include_secrets_says_so_when_no_table_has_any(
    blog: Blog, db: Session, tenant: Tenant, tmp_path: Path
) -> None:
    populate(db, tenant)
    file = tmp_path / "a.json"

    assert blog("export", tenant.slug, "--include-secrets", "-o", str(file)).exit_code == 0
    result = blog("import", str(file), "--as", "copy")

    assert json.loads(file.read_text())["secrets"] is True
    assert result.exit_code == 0, result.output
    assert without_tenant_identity(export_of(blog, "copy")) == without_tenant_identity(
        export_of(blog, tenant.slug)
    )


def endpoint_rows(owner_engine: Engine, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    endpoints = metadata.tables["webhook_endpoints"]
    with owner_engine.connect() as connection:
        query = (
            sa.select(endpoints).where(endpoints.c.tenant_id == tenant_id).order_by(endpoints.c.id)
        )
        return [dict(row._mapping) for row in connection.execute(query)]


@pytest.mark.parametrize("include_secrets", [False, True], ids=["without", "with secrets"])
def test_webhook_endpoints_move_their_signing_secret_only_when_asked(
    blog: Blog,
    db: Session,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
    include_secrets: bool,
) -> None:
    populate(db, tenant)
    endpoint = WebhookEndpointFactory(
        tenant=tenant,
        events=["post.published", "comment.created"],
        previous_secret="whsec_" + "A" * 32,
        previous_secret_expires_at=utcnow() + timedelta(hours=1),
    )
    WebhookDeliveryFactory(endpoint=endpoint)
    file = tmp_path / "a.json"
    flags = ["--include-secrets"] if include_secrets else []

    exported = blog("export", tenant.slug, *flags, "-o", str(file))
    result = blog("import", str(file), "--as", "copy")

    assert exported.exit_code == 0, exported.output
    (row,) = json.loads(file.read_text())["webhook_endpoints"]
    assert ("secret" in row) is include_secrets
    assert "previous_secret" not in row
    assert "webhook_deliveries" not in json.loads(file.read_text())
    assert result.exit_code == 0, result.output
    (original,) = endpoint_rows(owner_engine, tenant.id)
    (copy,) = endpoint_rows(owner_engine, tenant_id_of(owner_engine, "copy"))
    assert (copy["id"], copy["url"], copy["events"]) == (
        original["id"],
        original["url"],
        original["events"],
    )
    assert copy["previous_secret"] is None
    assert copy["secret"].startswith("whsec_")
    assert (copy["secret"] == original["secret"]) is include_secrets
    assert ("webhook_endpoints.secret" in said(result)) is not include_secrets
    assert count(owner_engine, "webhook_deliveries") == 1  # the original's only


def test_a_table_added_to_the_format_later_is_empty_in_older_files(
    blog: Blog, db: Session, monkeypatch: pytest.MonkeyPatch, tenant: Tenant, tmp_path: Path
) -> None:
    """``since``: as if favorites had joined the file in version 4."""
    populate(db, tenant)
    data = {**export_of(blog, tenant.slug), "exported_at": "2026-12-01T12:00:00Z"}
    tables = tuple(
        Exported(Favorite, since=4) if table.model is Favorite else table for table in TABLES
    )
    monkeypatch.setattr(transfer, "TABLES", tables)
    old = {key: value for key, value in data.items() if key not in ("favorites", "secrets")}
    current = {key: value for key, value in data.items() if key != "favorites"}

    imported = blog(
        "import", str(write(tmp_path / "v3.json", {**old, "version": 3})), "--as", "old"
    )
    refused = blog("import", str(write(tmp_path / "v4.json", current)), "--as", "new")

    assert imported.exit_code == 0, imported.output
    assert "0 favorites" in said(imported)
    assert export_of(blog, "old")["favorites"] == []
    assert refused.exit_code == 1
    assert "invalid favorites: Field required" in said(refused)


# --- search ---------------------------------------------------------------------------------


def search_tags(owner_engine: Engine, slug: str) -> dict[str, str]:
    """Each post's ``search_tags`` in the blog ``slug``, by post id."""
    posts = metadata.tables["posts"]
    tenant_id = tenant_id_of(owner_engine, slug)
    with owner_engine.connect() as connection:
        query = sa.select(posts.c.id, posts.c.search_tags).where(posts.c.tenant_id == tenant_id)
        return {str(post_id): tags for post_id, tags in connection.execute(query)}


def test_an_imported_blog_is_searchable_by_its_words_and_its_tags(
    blog: Blog,
    db: Session,
    client: TestClient,
    owner_engine: Engine,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    """The tag names search reads are made again from the links (in their order, not the
    tags' or their names'), and the copy's index holds every post."""
    people = populate(db, tenant)
    post = PostFactory(
        author=people["owner"],
        body="A dirigible drifted over the harbour.",
        tags=["zeppelins", "airships", "sql"],  # "sql" is the oldest tag: populate made it
    )
    original = search_tags(owner_engine, tenant.slug)
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0

    result = blog("import", str(file), "--as", "copy")

    assert result.exit_code == 0, result.output
    copy = TenantFactory.build(slug="copy")
    for word in ("dirigible", "airships", "zeppelins"):
        assert listed_ids(list_posts(client, copy, q=word)) == [str(post.id)], word
    assert sorted(search_tags(owner_engine, "copy").values()) == [
        "",  # the post without tags
        "python",
        "sql python news",
        "zeppelins airships sql",
    ]
    assert search_tags(owner_engine, tenant.slug) == original  # the original is left alone


def test_the_search_language_moves_with_a_blog(
    blog: Blog, db: Session, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    """The copy is indexed in the blog's language: German stems "Häfen" as "Hafen" on
    PostgreSQL (English does not; SQLite folds the umlaut for every blog)."""
    people = populate(db, tenant)
    post = PostFactory(author=people["owner"], body="Die Häfen liegen im Nebel.")
    tenant.search_language = "german"
    db.add(tenant)
    db.commit()
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0

    result = blog("import", str(file), "--as", "copy")

    assert result.exit_code == 0, result.output
    assert json.loads(file.read_text())["tenant"]["search_language"] == "german"
    assert export_of(blog, "copy")["tenant"]["search_language"] == "german"
    copy = TenantFactory.build(slug="copy")
    assert listed_ids(list_posts(client, copy, q="Hafen")) == [str(post.id)]


def test_a_version_4_export_imports_with_the_default_search_language(
    blog: Blog, db: Session, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    """Version 5 added the blog's search language: an older file's blog gets the default,
    and is searchable by its tags all the same."""
    populate(db, tenant)
    tenant.search_language = "german"
    db.add(tenant)
    db.commit()
    current = export_of(blog, tenant.slug)
    data = {**current, "version": 4, "exported_at": "2026-12-02T12:00:00Z"}
    data["tenant"] = {k: v for k, v in current["tenant"].items() if k != "search_language"}

    result = blog("import", str(write(tmp_path / "v4.json", data)), "--as", "v4-copy")

    assert result.exit_code == 0, result.output
    copy = export_of(blog, "v4-copy")
    assert copy["tenant"]["search_language"] == "english"
    current["tenant"]["search_language"] = "english"
    assert without_tenant_identity(copy) == without_tenant_identity(current)
    # "sql" is a tag of one post only (Faker's text, which fills the others, has "news" too).
    found = list_posts(client, TenantFactory.build(slug="v4-copy"), q="sql")
    assert len(listed_ids(found)) == 1


# --- scheduled posts ------------------------------------------------------------------------


def test_an_imported_scheduled_post_still_publishes_on_time(
    blog: Blog,
    db: Session,
    client: TestClient,
    owner_engine: Engine,
    run_jobs: Callable[..., int],
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    people = populate(db, tenant)
    post = PostFactory(author=people["owner"], status=PostStatus.scheduled)
    due = post.published_at
    assert due is not None
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0
    assert json.loads(file.read_text())["posts"][-1]["status"] == "scheduled"
    assert blog("tenants", "delete", tenant.slug, "--yes").exit_code == 0

    result = blog("import", str(file))

    assert result.exit_code == 0, result.output
    assert "1 scheduled post(s) will be published at their time" in said(result)
    assert count(owner_engine, "jobs", tenant.id) == 1
    run_jobs(now=due - timedelta(minutes=1))
    assert read_post(client, tenant, post.id).status_code == 404
    assert str(post.id) not in listed_ids(list_posts(client, tenant))

    run_jobs(now=due + timedelta(seconds=1))

    published = read_post(client, tenant, post.id)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert str(post.id) in listed_ids(list_posts(client, tenant))


def test_a_scheduled_post_copied_next_to_its_original_publishes_in_the_copy(
    blog: Blog,
    db: Session,
    client: TestClient,
    run_jobs: Callable[..., int],
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    """The copy gets its own job (its post keeps the id of the original's, in another blog)."""
    people = populate(db, tenant)
    post = PostFactory(author=people["owner"], status=PostStatus.scheduled)
    assert post.published_at is not None
    file = tmp_path / "a.json"
    assert blog("export", tenant.slug, "-o", str(file)).exit_code == 0
    assert blog("import", str(file), "--as", "copy").exit_code == 0
    copy = TenantFactory.build(slug="copy")

    run_jobs(now=post.published_at + timedelta(seconds=1))

    published = read_post(client, copy, post.id)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
