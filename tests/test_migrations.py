"""Alembic is the source of truth for the schema: it must match the models exactly."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from blog.cli import alembic_config
from blog.database import create_db_engine
from blog.models import metadata
from blog.posts.search import include_object


def schema_differences(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_matches_models_and_downgrade_round_trips(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)

    command.upgrade(config, "head")
    assert schema_differences(empty_database_url) == []

    command.downgrade(config, "base")
    assert table_names(empty_database_url) <= {"alembic_version"}

    command.upgrade(config, "head")
    assert schema_differences(empty_database_url) == []
    assert {table.name for table in metadata.sorted_tables} <= table_names(empty_database_url)


# Columns added after the revisions these tests start from.
LATER_TENANT_COLUMNS = ("require_verified_email", "lockout_threshold", "frontend_url")
LATER_USER_COLUMNS = ("email_verified_at", "failed_logins", "locked_until", "token_generation")


def without(table: sa.Table, *names: str) -> sa.TableClause:
    """``table`` as it was before the columns ``names`` were added."""
    return sa.table(
        table.name, *(sa.column(c.name, c.type) for c in table.c if c.name not in names)
    )


def add_old_member(
    connection: sa.Connection, *, tenant: uuid.UUID, user: uuid.UUID, moment: datetime
) -> None:
    """A blog with one member, as rows were before the accounts migration; the connection
    (the owner's) is declared cross-tenant for row-level security."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT set_config('app.cross_tenant', 'test', true)")
    tables = metadata.tables
    connection.execute(
        without(tables["tenants"], *LATER_TENANT_COLUMNS)
        .insert()
        .values(id=tenant, slug="old", name="Old", registration_open=True, created_at=moment)
    )
    connection.execute(
        without(tables["users"], *LATER_USER_COLUMNS)
        .insert()
        .values(
            tenant_id=tenant,
            id=user,
            email="a@old.example",
            username="a",
            username_key="a",
            role="author",
            is_active=True,
            hashed_password="x",
            created_at=moment,
            updated_at=moment,
        )
    )


def test_existing_comments_are_numbered_per_post_in_order_of_writing(
    empty_database_url: str,
) -> None:
    """Upgrading a database that already has comments numbers each post's 1, 2, 3…"""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "e1bc1912607d")  # the revision before comment numbers
    tables = metadata.tables
    tenant, user, first, second = (uuid.UUID(int=n) for n in range(1, 5))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    comments = [  # (id, post, minute written): ids out of time order on purpose
        (uuid.UUID(int=13), first, 3),
        (uuid.UUID(int=11), first, 1),
        (uuid.UUID(int=12), second, 2),
        (uuid.UUID(int=14), first, 2),
    ]
    stamps = {"created_at": moment, "updated_at": moment}
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:  # the owner; declared cross-tenant for RLS
            add_old_member(connection, tenant=tenant, user=user, moment=moment)
            for post in (first, second):
                connection.execute(
                    without(tables["posts"], "last_comment_number")
                    .insert()
                    .values(
                        tenant_id=tenant,
                        id=post,
                        author_id=user,
                        title="t",
                        slug=str(post),
                        description="",
                        body="b",
                        status="published",
                        **stamps,
                    )
                )
            for comment, post, minute in comments:
                written = moment.replace(minute=minute)
                connection.execute(
                    without(tables["comments"], "number")
                    .insert()
                    .values(
                        tenant_id=tenant,
                        id=comment,
                        post_id=post,
                        author_id=user,
                        body="c",
                        created_at=written,
                        updated_at=written,
                    )
                )

        command.upgrade(config, "head")

        with engine.connect() as connection:
            comment_table, post_table = tables["comments"].c, tables["posts"].c
            numbers: dict[uuid.UUID, int] = dict(
                connection.execute(sa.select(comment_table.id, comment_table.number)).all()
            )
            counters: dict[uuid.UUID, int] = dict(
                connection.execute(sa.select(post_table.id, post_table.last_comment_number)).all()
            )
    finally:
        engine.dispose()
    assert [numbers[comment] for comment, _, _ in comments] == [3, 1, 1, 2]
    assert counters == {first: 3, second: 1}


def test_existing_logins_become_sessions(empty_database_url: str) -> None:
    """Each refresh-token family becomes a session: open while one of its tokens is
    usable, ended otherwise; its refresh tokens keep working."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "5d1e7a3c9b20")  # the revision before sessions
    tables = metadata.tables
    tenant, user, open_login, ended_login = (uuid.UUID(int=n) for n in range(1, 5))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    later = moment.replace(hour=5)
    tokens = [  # (id, family, created, used, revoked)
        (uuid.UUID(int=11), open_login, moment, later, None),
        (uuid.UUID(int=12), open_login, later, None, None),
        (uuid.UUID(int=13), ended_login, moment, None, later),
    ]
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            add_old_member(connection, tenant=tenant, user=user, moment=moment)
            for token, family, created, used, revoked in tokens:
                connection.execute(
                    tables["refresh_tokens"]
                    .insert()
                    .values(
                        tenant_id=tenant,
                        id=token,
                        user_id=user,
                        family_id=family,
                        token_hash=token.hex,
                        created_at=created,
                        expires_at=created.replace(year=2099),
                        used_at=used,
                        revoked_at=revoked,
                    )
                )

        command.upgrade(config, "head")

        with engine.connect() as connection:
            sessions = tables["auth_sessions"].c
            found = {
                row.id: row
                for row in connection.execute(
                    sa.select(
                        sessions.id, sessions.user_id, sessions.last_used_at, sessions.ended_at
                    )
                )
            }
    finally:
        engine.dispose()
    assert set(found) == {open_login, ended_login}
    assert found[open_login].user_id == user
    assert found[open_login].ended_at is None
    assert found[open_login].last_used_at.replace(tzinfo=UTC) == later.replace(tzinfo=UTC)
    assert found[ended_login].ended_at is not None


def searched(connection: sa.Connection, words: str) -> list[uuid.UUID]:
    """The posts the search index finds for ``words``, straight from the index."""
    if connection.dialect.name == "postgresql":
        statement = "SELECT id FROM posts WHERE search_vector @@ websearch_to_tsquery(:words)"
    else:
        statement = (
            "SELECT posts.id FROM posts_search JOIN posts ON posts.rowid = posts_search.rowid"
            " WHERE posts_search MATCH :words"
        )
    found = connection.execute(sa.text(statement), {"words": words}).scalars()
    return sorted(uuid.UUID(str(post)) for post in found)


def index_objects(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        inspector = sa.inspect(engine)
        found = {name for name in inspector.get_table_names() if name.startswith("posts_search")}
        found |= {column["name"] for column in inspector.get_columns("posts")}
        found |= {column["name"] for column in inspector.get_columns("tenants")}
        return found & {"posts_search", "search_vector", "search_tags", "search_language"}
    finally:
        engine.dispose()


def test_search_index_is_built_for_existing_posts_and_removed_on_downgrade(
    empty_database_url: str,
) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "b7c41e9a2d53")  # the revision before search
    tables = metadata.tables
    tenant, user, tagged, plain, tag = (uuid.UUID(int=n) for n in range(1, 6))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            add_old_member(connection, tenant=tenant, user=user, moment=moment)
            connection.execute(
                tables["tags"].insert().values(tenant_id=tenant, id=tag, name="ferns")
            )
            for post, body in ((tagged, "Mosses and lichens."), (plain, "Running rivers.")):
                connection.execute(
                    without(tables["posts"], "search_tags")
                    .insert()
                    .values(
                        tenant_id=tenant,
                        id=post,
                        author_id=user,
                        title="Walks",
                        slug=str(post),
                        description="",
                        body=body,
                        status="published",
                        created_at=moment,
                        updated_at=moment,
                    )
                )
            connection.execute(
                tables["post_tags"]
                .insert()
                .values(tenant_id=tenant, post_id=tagged, tag_id=tag, position=0)
            )

        command.upgrade(config, "head")

        with engine.connect() as connection:
            assert searched(connection, "ferns") == [tagged]  # tags, from the links
            assert searched(connection, "lichen") == [tagged]
            assert searched(connection, "run") == [plain]  # stemmed
            assert searched(connection, "walks") == [tagged, plain]
        assert index_objects(empty_database_url) == {
            "search_language",
            "search_tags",
            "posts_search" if engine.dialect.name == "sqlite" else "search_vector",
        }

        command.downgrade(config, "b7c41e9a2d53")

        assert index_objects(empty_database_url) == set()
        with engine.begin() as connection:  # no trigger is left to write to the index
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SELECT set_config('app.cross_tenant', 'test', true)")
            connection.execute(tables["posts"].delete().where(tables["posts"].c.id == plain))
    finally:
        engine.dispose()
