"""PostgreSQL plans: one tenant's post list must not read other tenants' rows.

The statement ``GET /posts`` runs (the total and the page in one) is captured and re-run
under ``EXPLAIN (ANALYZE, FORMAT JSON)`` with the same parameters; every plan node that
reads ``posts`` must use an index and have examined no more rows than the tenant owns.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.database import utcnow, uuid7
from blog.posts.models import Post, PostStatus
from blog.tenants.models import Tenant
from tests.conftest import tenant_path
from tests.factories import PostFactory, UserFactory

SMALL, OWN, LARGE = 30, 1000, 5000


@pytest.fixture(autouse=True)
def _postgres_only(database_backend: str) -> None:
    if database_backend != "postgres":
        pytest.skip("query plans are checked on PostgreSQL, the production database")


def bulk_posts(
    engine: Engine, tenant: Tenant, count: int, db: Session, *, title: str = "Post"
) -> None:
    author = UserFactory.create(tenant=tenant)
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant.id,
            "id": uuid7(),
            "author_id": author.id,
            "title": f"{title} {i}",
            "slug": f"{title.lower()}-{i}",
            "description": "",
            "body": "text",
            "status": PostStatus.published.value,
            "published_at": now - timedelta(minutes=i),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(Post.__table__), rows)  # type: ignore[attr-defined]
        connection.exec_driver_sql("ANALYZE")


def get_with_statements(
    client: TestClient, engine: Engine, path: str
) -> tuple[Any, list[tuple[str, Any]]]:
    """The response to ``GET path`` and every statement (with its parameters) it ran."""
    captured: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        captured.append((args[2], args[3]))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        return client.get(path), captured
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explain(engine: Engine, statement: str, parameters: Any) -> dict[str, Any]:
    with engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        row = cursor.fetchone()
        assert row is not None
        plan: dict[str, Any] = row[0][0]["Plan"]
        return plan


def rows_examined(node: dict[str, Any]) -> float:
    loops = float(node.get("Actual Loops", 1))
    return (
        float(node.get("Actual Rows", 0)) + float(node.get("Rows Removed by Filter", 0))
    ) * loops


@pytest.mark.parametrize(
    "listing",
    ["/posts", "/posts?offset=10", "/posts?offset=29", "/posts?author=nobody", "/posts?tag=none"],
)
def test_post_list_reads_only_the_tenants_rows(
    client: TestClient,
    engine: Engine,
    owner_engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
    db: Session,
    listing: str,
) -> None:
    PostFactory.create_batch(SMALL, author__tenant=tenant)
    bulk_posts(owner_engine, other_tenant, LARGE, db)
    response, captured = get_with_statements(client, engine, tenant_path(tenant, listing))

    assert response.status_code == 200
    post_queries = [(sql, params) for sql, params in captured if "FROM posts" in sql]
    assert len(post_queries) == 2  # the total and positions (once per version), the page
    for sql, params in post_queries:
        plan = explain(owner_engine, sql, params)  # the query alone, without the RLS filter
        scans = [node for node in plan_nodes(plan) if node.get("Relation Name") == "posts"]
        assert scans, sql
        for scan in scans:
            assert scan["Node Type"] != "Seq Scan", (sql, scan)
            assert rows_examined(scan) <= SMALL, (sql, scan)


@pytest.mark.parametrize("listing", ["/posts?q=heron", "/posts?q=heron&order=newest"])
def test_search_never_reads_another_blogs_entries(
    client: TestClient,
    engine: Engine,
    owner_engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
    db: Session,
    listing: str,
) -> None:
    """30 of the blog's 1,030 posts match, and all 5,000 of another blog's: whichever way
    the planner finds the 30 (the search index has tenant_id first, or the blog's own
    posts), no plan reads the other blog's entries. (That the index serves a search of a
    large blog is shown by ``python -m bench.search``, which prints the plan.)"""
    PostFactory.create_batch(SMALL, author__tenant=tenant, title="A heron")
    bulk_posts(owner_engine, tenant, OWN, db)
    bulk_posts(owner_engine, other_tenant, LARGE, db, title="Heron")
    response, captured = get_with_statements(client, engine, tenant_path(tenant, listing))

    assert response.json()["total"] == SMALL
    searches = [(sql, params) for sql, params in captured if "search_vector @@" in sql]
    assert searches
    for sql, params in searches:
        for scan in plan_nodes(explain(owner_engine, sql, params)):
            if scan.get("Relation Name") == "posts" or "Index Name" in scan:
                assert scan["Node Type"] != "Seq Scan", (sql, scan)
                assert rows_examined(scan) <= SMALL + OWN, (sql, scan)


@pytest.mark.parametrize(
    "document",
    ["rss.xml", "sitemap.xml", "sitemaps/posts.xml", "sitemaps/tags.xml", "sitemaps/authors.xml"],
)
def test_feeds_and_sitemaps_read_only_the_tenants_rows(
    client: TestClient,
    engine: Engine,
    owner_engine: Engine,
    tenant: Tenant,
    other_tenant: Tenant,
    db: Session,
    document: str,
) -> None:
    PostFactory.create_batch(SMALL, author__tenant=tenant, tags=["shared"])
    bulk_posts(owner_engine, other_tenant, LARGE, db)
    response, captured = get_with_statements(client, engine, f"/blogs/{tenant.slug}/{document}")

    assert response.status_code == 200
    post_queries = [(sql, params) for sql, params in captured if "posts" in sql]
    assert post_queries
    for sql, params in post_queries:
        plan = explain(owner_engine, sql, params)  # the query alone, without the RLS filter
        scans = [node for node in plan_nodes(plan) if node.get("Relation Name") == "posts"]
        assert scans, sql
        for scan in scans:
            assert scan["Node Type"] != "Seq Scan", (sql, scan)
            assert rows_examined(scan) <= SMALL, (sql, scan)
