"""Search benchmark: ranked full-text search against the substring scan it replaced.

    python -m bench.search                            # SQLite, 100,000 posts
    python -m bench.search --posts 20000 --repeat 3   # smaller
    python -m bench.search --postgres postgresql://postgres@127.0.0.1:5432/test

Each database is made fresh (a migrated SQLite file; a new PostgreSQL database, dropped
afterwards, as in bench/seed_speed.py) and seeded by ``blog.seeding.seed`` with one blog.
Then, for every query, in one session bound to the blog as a request's is
(``bind_tenant``: on PostgreSQL every transaction sets ``app.tenant_id``), warm, the
median of ``--repeat`` runs of:

  * :func:`substring_page`, the anchor: the statement ``list_posts`` ran for ``q`` before
    a7a66b7, the count and the first page of 20, newest first;
  * ``list_posts`` with ``PostFilter(q=...)``, best match first and newest first, each
    with its total, tags and snippets (``version=None``: no kept positions reused);

and the EXPLAIN of the search statement, which must show the search index. PostgreSQL
is measured as the server URL's user (the owner; a superuser is not subject to row-level
security). Figures vary with the machine's load: read the ratios.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bench.search_report import QUERIES, SearchRow, format_table, index_line, unknown_words
from bench.seed_speed import drop_postgres, fresh_postgres, migrated_sqlite
from blog.auth.security import PasswordHasher
from blog.database import create_db_engine
from blog.pagination import PageParams
from blog.posts.listing import Listing, PostFilter, PostOrder, list_posts
from blog.posts.models import Favorite, Post, public_posts
from blog.seeding import SeedPlan, seed
from blog.tenancy import bind_tenant
from blog.tenants.models import Tenant
from blog.users.models import User

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USERS = 1_000
POSTS_PER_USER = 100
PAGE = 20
# What the search's page statement reads, telling it from the others a list runs.
SEARCH_MARKER = {"sqlite": "posts_search", "postgresql": "search_vector"}
T = TypeVar("T")


def plan_for(posts: int) -> SeedPlan:
    """One blog of about ``posts`` posts: up to 1,000 authors of 100 posts each."""
    users = max(1, min(USERS, posts // POSTS_PER_USER))
    return SeedPlan(tenants=1, users_per_tenant=users, posts_per_user=max(1, posts // users))


# -- the anchor: the substring scan of list_posts before a7a66b7 ---------------------------

LIKE_ESCAPE = "/"


def substring_pattern(text: str) -> str:
    """The LIKE pattern ``q`` became: ``text`` anywhere, its own wildcards literal."""
    text = text.strip().lower()
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return f"%{text}%"


def _substring_page_statement() -> sa.Select[Any]:
    """The old statement's shape: a row of totals left-joined to the page (its keys
    found first, newest first), with authors and favorite counts; its tags, a statement
    of their own on both sides, are left out here."""
    pattern = sa.bindparam("pattern", type_=sa.String)
    found = sa.and_(
        public_posts(),
        sa.or_(
            *(
                sa.func.lower(column).like(pattern, escape=LIKE_ESCAPE)
                for column in (col(Post.title), col(Post.description), col(Post.body))
            )
        ),
    )
    keys = (
        sa.select(col(Post.id).label("id"))
        .where(found)
        .order_by(col(Post.published_at).desc(), col(Post.id).desc())
        .limit(PAGE + 1)
        .subquery("keys")
    )
    favorites = (
        select(sa.func.count())
        .select_from(Favorite)
        .where(col(Favorite.post_id) == col(Post.id))
        .scalar_subquery()
    )
    page = (
        sa.select(
            col(Post.id),
            col(Post.slug),
            col(Post.title),
            col(Post.description),
            col(Post.published_at),
            col(User.username).label("author_username"),
            favorites.label("favorites_count"),
        )
        .select_from(keys)
        .join(Post, col(Post.id) == keys.c.id)
        .outerjoin(
            User,
            sa.and_(
                col(User.tenant_id) == col(Post.tenant_id), col(User.id) == col(Post.author_id)
            ),
        )
    ).subquery("page")
    counted = select(sa.func.count()).select_from(Post).where(found).correlate(None)
    totals = sa.select(counted.scalar_subquery().label("total")).subquery("totals")
    return (
        sa.select(totals, *page.c)
        .select_from(totals)
        .outerjoin(page, sa.true())
        .order_by(page.c.published_at.desc(), page.c.id.desc())
    )


SUBSTRING_PAGE = _substring_page_statement()


def substring_page(session: Session, text: str) -> int:
    """The anchor: count and first page of the posts holding ``text``; the count."""
    rows = session.execute(SUBSTRING_PAGE, {"pattern": substring_pattern(text)}).all()
    return int(rows[0].total)


def search_page(session: Session, text: str, language: str, order: PostOrder) -> Listing:
    """What GET /posts?q= reads: the first page with its total, tags and snippets."""
    return list_posts(
        session,
        filter=PostFilter(q=text, language=language),
        viewer=None,
        page=PageParams(limit=PAGE),
        version=None,
        order=order,
    )


# -- measuring ------------------------------------------------------------------------------


def timed(call: Callable[[], T], repeat: int, end: Callable[[], None]) -> tuple[float, T]:
    """Median milliseconds of ``repeat`` runs of ``call`` after one untimed (warming) run,
    and its result; ``end`` (untimed) ends each run's transaction, as a request's ends."""
    result = call()
    end()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
        end()
    return statistics.median(seconds) * 1000, result


@dataclass
class Statements:
    """The statements an engine ran while :func:`recording` (text and parameters)."""

    seen: list[tuple[str, Any]]

    def first(self, marker: str) -> tuple[str, Any]:
        """The first statement whose text holds ``marker`` (not the scope's set_config)."""
        return next(seen for seen in self.seen if marker in seen[0])


@contextmanager
def recording(engine: Engine) -> Iterator[Statements]:
    log = Statements([])

    def record(*args: Any) -> None:
        _conn, _cursor, statement, parameters = args[:4]
        log.seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def explain(
    session: Session, statement: str, parameters: Any, *, analyze: bool = False
) -> list[str]:
    """The plan of a statement as the driver got it, in the session's transaction (so
    with its tenant bound): EXPLAIN QUERY PLAN on SQLite, EXPLAIN [ANALYZE] on PostgreSQL."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [str(row[-1]) for row in rows]
    verb = "EXPLAIN (ANALYZE, BUFFERS)" if analyze else "EXPLAIN"
    return [str(row[0]) for row in connection.exec_driver_sql(f"{verb} {statement}", parameters)]


def measure(
    engine: Engine,
    slug: str,
    queries: Sequence[str],
    repeat: int,
    *,
    plans: bool = False,
) -> list[SearchRow]:
    """Every query against the blog ``slug``, in one session bound to it."""
    database = engine.dialect.name
    rows = []
    with Session(engine) as session:
        tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).one()
        tenant_id, language = tenant.id, tenant.search_language
        session.rollback()
        bind_tenant(session, tenant_id)
        for query in queries:

            def anchor(text: str = query) -> int:
                return substring_page(session, text)

            def search(order: PostOrder, text: str = query) -> Listing:
                return search_page(session, text, language, order)

            end = session.rollback
            substring_ms, substring_matches = timed(anchor, repeat, end)
            relevance_ms, found = timed(lambda: search(PostOrder.relevance), repeat, end)
            newest_ms, _ = timed(lambda: search(PostOrder.newest), repeat, end)
            with recording(engine) as log:
                search(PostOrder.relevance)
            statement, parameters = log.first(SEARCH_MARKER[database])  # page and total
            plan = explain(session, statement, parameters)
            if plans:
                print_plans(session, query, statement, parameters, engine)
            session.rollback()
            rows.append(
                SearchRow(
                    database=database,
                    query=query,
                    matches=found.total,
                    substring_matches=substring_matches,
                    substring_ms=substring_ms,
                    relevance_ms=relevance_ms,
                    newest_ms=newest_ms,
                    plan=index_line(database, plan),
                )
            )
    return rows


def print_plans(
    session: Session, query: str, statement: str, parameters: Any, engine: Engine
) -> None:
    """The whole plans (with timings on PostgreSQL): of the search's page statement, best
    match first, and of the substring scan's."""
    print(f"\n-- plan of the search, best match first: {query!r}")
    print("\n".join(explain(session, statement, parameters, analyze=True)))
    with recording(engine) as log:
        substring_page(session, query)
    print(f"\n-- plan of the substring scan: {query!r}")
    print("\n".join(explain(session, *log.first("LIKE"), analyze=True)))


# -- the databases ----------------------------------------------------------------------------


def seeded(url: str, plan: SeedPlan) -> float:
    """Seed ``url`` with ``plan``; the seconds it took."""
    engine = create_db_engine(url)
    try:
        started = time.perf_counter()
        seed(engine, plan, hasher=PasswordHasher(rounds=4), now=NOW)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def run_on(
    url: str, plan: SeedPlan, queries: Sequence[str], repeat: int, plans: bool
) -> list[SearchRow]:
    """Seed the fresh database ``url``, then measure it."""
    name = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    posts = plan.users_per_tenant * plan.posts_per_user
    print(f"{name}: seeding {posts:,} posts in one blog ...", flush=True)
    print(f"{name}: seeded in {seeded(url, plan):.1f} s; measuring", flush=True)
    if name == "PostgreSQL":
        # Production would have autovacuum's statistics (and a merged GIN pending list).
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
    engine = create_db_engine(url)
    try:
        return measure(engine, plan.slug(0), queries, repeat, plans=plans)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> list[SearchRow]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made on it)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--plans", action="store_true", help="print the whole plans too")
    parser.add_argument("--query", action="append", help="instead of the built-in queries")
    args = parser.parse_args(argv)
    queries = args.query or list(QUERIES)
    if unknown := unknown_words(queries):
        print(f"note: the seeder never writes {', '.join(unknown)}", file=sys.stderr)
    plan = plan_for(args.posts)
    rows: list[SearchRow] = []
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            url = migrated_sqlite(Path(directory), "search.db")
            rows += run_on(url, plan, queries, args.repeat, args.plans)
    if args.postgres:
        url = fresh_postgres(args.postgres)
        try:
            rows += run_on(url, plan, queries, args.repeat, args.plans)
        finally:
            drop_postgres(url)
    print()
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
