"""The tenant scoping mechanism: every ORM statement is scoped, and it fails closed."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import CACHE_MISS
from sqlmodel import Session, col, select

from blog.database import new_session, utcnow
from blog.pagination import PageParams
from blog.posts import listing as posts_listing
from blog.posts.listing import PostFilter
from blog.posts.models import Favorite, PostTag, Tag
from blog.tenancy import TenantScopeError, bind_tenant, cross_tenant
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.factories import PostFactory, TenantFactory, UserFactory


@pytest.fixture
def two_tenants(db: Session) -> tuple[Tenant, Tenant]:
    first, second = TenantFactory.create(), TenantFactory.create()
    UserFactory.create_batch(2, tenant=first)
    UserFactory.create_batch(3, tenant=second)
    return first, second


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with new_session(engine) as unbound:
        yield unbound


def test_query_without_tenant_raises_instead_of_returning_everything(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    with pytest.raises(TenantScopeError):
        session.exec(select(User)).all()


def test_count_without_tenant_raises(two_tenants: tuple[Tenant, Tenant], session: Session) -> None:
    with pytest.raises(TenantScopeError):
        session.scalar(sa.select(sa.func.count()).select_from(User))


def test_bound_session_sees_only_its_tenant(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    first, _ = two_tenants
    bind_tenant(session, first.id)

    users = session.exec(select(User)).all()
    count = session.scalar(sa.select(sa.func.count()).select_from(User))
    subquery_count = session.scalar(
        sa.select(sa.func.count()).select_from(select(User.id).subquery())
    )

    assert {u.tenant_id for u in users} == {first.id}
    assert count == subquery_count == 2


def test_bulk_update_and_delete_touch_only_the_bound_tenant(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    first, second = two_tenants
    bind_tenant(session, first.id)

    session.execute(sa.update(User).values(bio="scoped"))
    session.execute(sa.delete(User).where(col(User.bio) == "scoped"))
    session.commit()

    bind_tenant(session, second.id)
    remaining = session.exec(select(User)).all()
    assert len(remaining) == 3
    assert all(u.bio is None for u in remaining)


def test_filtering_by_another_tenants_id_finds_nothing(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    first, second = two_tenants
    bind_tenant(session, first.id)

    found = session.exec(select(User).where(col(User.tenant_id) == second.id)).all()

    assert found == []


def test_flushing_a_row_of_another_tenant_raises(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    first, second = two_tenants
    bind_tenant(session, first.id)
    session.add(
        User(
            tenant_id=second.id,
            email="x@example.com",
            username="x",
            username_key="x",
            hashed_password="-",
        )
    )

    with pytest.raises(TenantScopeError):
        session.flush()


def test_flushing_a_tenant_row_in_an_unbound_session_raises(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    first, _ = two_tenants
    session.add(
        User(
            tenant_id=first.id,
            email="x@example.com",
            username="x",
            username_key="x",
            hashed_password="-",
        )
    )

    with pytest.raises(TenantScopeError):
        session.flush()


def test_cross_tenant_work_is_explicit_and_named(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    with cross_tenant(session, "counting every account on the platform"):
        assert len(session.exec(select(User)).all()) == 5

    with pytest.raises(TenantScopeError):
        session.exec(select(User)).all()
    with pytest.raises(ValueError, match="reason"), cross_tenant(session, ""):
        pass


def test_an_error_in_cross_tenant_work_is_raised_as_itself(
    two_tenants: tuple[Tenant, Tenant], session: Session
) -> None:
    """A statement the database refuses aborts the transaction on PostgreSQL: leaving
    cross-tenant work must not bury that error under a failed reset of the scope."""
    refused = sa.text("SELECT * FROM no_such_table").execution_options(raw_sql_reason="a test")

    with (
        pytest.raises(sa.exc.DBAPIError, match="no_such_table"),
        cross_tenant(session, "reading a table that is not there"),
    ):
        session.execute(refused)
    session.rollback()

    with pytest.raises(TenantScopeError):
        session.exec(select(User)).all()


def test_leaving_cross_tenant_work_on_an_error_ends_it_in_the_database(
    two_tenants: tuple[Tenant, Tenant], session: Session, database_backend: str
) -> None:
    """An error that leaves the transaction usable (a domain error) must not leave the
    database's row-level security lifted for the rest of the transaction."""
    if database_backend != "postgres":
        pytest.skip("row-level security is PostgreSQL's")
    reason = sa.text("SELECT current_setting('app.cross_tenant', true)").execution_options(
        raw_sql_reason="reading the scope"
    )

    def work_that_fails() -> None:
        with cross_tenant(session, "work that fails"):
            session.exec(select(User)).all()
            raise LookupError

    with pytest.raises(LookupError):
        work_that_fails()
    assert session.scalar(reason) == ""


def test_database_refuses_a_cross_tenant_reference(
    two_tenants: tuple[Tenant, Tenant], engine: Engine, owner_engine: Engine
) -> None:
    """The composite foreign key (tenant_id, user_id) makes a cross-tenant link impossible.

    Run as the tables' owner, so it is the key, not row-level security, that refuses.
    """
    first, second = two_tenants
    with new_session(engine) as session:
        bind_tenant(session, second.id)
        other_tenants_user = session.exec(select(User)).first()
    assert other_tenants_user is not None

    with owner_engine.connect() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(
            sa.text(
                "INSERT INTO refresh_tokens (tenant_id, id, user_id, family_id, token_hash,"
                " created_at, expires_at) VALUES (:tenant, :id, :user, :family, 'h',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {
                "tenant": _uuid_param(connection, first.id),
                "id": _uuid_param(connection, first.id),
                "user": _uuid_param(connection, other_tenants_user.id),
                "family": _uuid_param(connection, first.id),
            },
        )


def _uuid_param(connection: sa.Connection, value: uuid.UUID) -> object:
    """UUIDs as the dialect stores them (SQLite: 32 hex characters)."""
    return value.hex if connection.dialect.name == "sqlite" else value


def test_raw_sql_through_a_session_is_refused_unless_marked(session: Session) -> None:
    with pytest.raises(TenantScopeError, match="raw SQL"):
        session.execute(sa.text("SELECT count(*) FROM users"))

    marked = sa.text("SELECT 1").execution_options(raw_sql_reason="a documented exception")
    assert session.execute(marked).scalar_one() == 1


def test_the_lean_post_list_reads_only_the_bound_tenants_rows(
    engine: Engine, db: Session, session: Session
) -> None:
    """Another blog holding rows with the very same ids (keys include tenant_id, so it may)
    leaks into no column of the list: every table of its one statement is scoped."""
    mine, theirs = TenantFactory.create(), TenantFactory.create()
    author = UserFactory.create(tenant=mine, username="author")
    now = utcnow()
    newer = PostFactory.create(author=author, title="Mine", tags=["mine"], published_at=now)
    older = PostFactory.create(author=author, published_at=now - timedelta(hours=1))
    clone = UserFactory.create(tenant=theirs, id=author.id, username="intruder")
    fan = UserFactory.create(tenant=theirs)
    mine_tag = db.exec(select(Tag).where(col(Tag.tenant_id) == mine.id)).one()
    db.add(Tag(tenant_id=theirs.id, id=mine_tag.id, name="theirs"))
    db.flush()
    for post in (newer, older):
        PostFactory.create(author=clone, id=post.id, title="Theirs", published_at=post.published_at)
        db.add(PostTag(tenant_id=theirs.id, post_id=post.id, tag_id=mine_tag.id, position=0))
        for user in (clone, fan):
            db.add(Favorite(tenant_id=theirs.id, user_id=user.id, post_id=post.id))
    db.commit()
    bind_tenant(session, mine.id)

    pages = [
        posts_listing.list_posts(
            session, filter=PostFilter(), viewer=author, page=PageParams(1, offset)
        )
        for offset in (0, 1, 2)
    ]

    assert [page.total for page in pages] == [2, 2, 2]
    first, second, beyond = (page.items for page in pages)
    assert beyond == []
    assert [(item["id"], item["title"]) for item in first + second] == [
        (newer.id, "Mine"),
        (older.id, older.title),
    ]
    for item in first + second:
        assert item["author"] is not None
        assert item["author"]["username"] == "author"
        assert (item["favorites_count"], item["favorited"]) == (0, False)
    assert (first[0]["tags"], second[0]["tags"]) == (["mine"], [])


def test_one_compiled_statement_serves_every_tenant(engine: Engine, db: Session) -> None:
    """The scoping criteria carry the tenant as a bound parameter: a list statement compiled
    for one blog is reused from SQLAlchemy's cache for the next blog, not compiled again."""
    blogs = [TenantFactory.create() for _ in range(3)]
    db.commit()
    compiled: list[bool] = []

    def note(*args: Any) -> None:
        statement, context = args[2], args[4]
        if "FROM posts" in statement:
            compiled.append(context.cache_hit is CACHE_MISS)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        for blog in [*blogs, *blogs]:
            with new_session(engine) as session:
                bind_tenant(session, blog.id)
                posts_listing.list_posts(
                    session, filter=PostFilter(tag="x"), viewer=None, page=PageParams(20, 40)
                )
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)

    assert len(compiled) == 6
    assert compiled[2:] == [False] * 4  # after warming up, no blog compiles it again
