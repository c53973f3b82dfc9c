"""Micro-benchmark of the cold native post list, in-process through ``TestClient``.

    .venv/bin/python -m bench.list_inprocess                 # 400 requests per side
    .venv/bin/python -m bench.list_inprocess --requests 1000 --viewer

``GET /api/v1/tenants/{t}/posts?limit=20&offset=N``, each request a random page of a
random blog (cold, as list-deep of ``python -m bench``), against the straightforward
implementation kept here as a reference route (count query; page of ``Post`` ORM objects;
selectinload of authors and tags; favorite marks; ``PostSummary.model_validate`` +
``model_copy``; FastAPI validating and serializing ``Page[PostSummary]``), in the same
process, on the same data, interleaved in rounds so that a busy machine slows both alike.
Read the ratio, not the requests/s: the machine may be shared.

Then the same kind of pages without HTTP: the query part against the shaping and
serialization part, for both implementations.

The data (``blog seed``: 5 blogs of 50 users x 240 posts, about 10,800 published per blog,
tags, comments; plus favorites and some authorless posts, which the seeder does not make)
is built once and kept in ``.bench/bench_list.db``; ``--fresh`` rebuilds it. Every page
the benchmark fetches is also compared with the reference's JSON: a faster wrong answer
fails the run.
"""

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from blog.app import create_app
from blog.auth.dependencies import OptionalUser
from blog.auth.security import PasswordHasher
from blog.database import SessionDep, create_db_engine, new_session
from blog.models import Favorite, Post, Tenant, User, metadata
from blog.pagination import Page, PageDep, PageParams, json_page
from blog.posts import routes as post_routes
from blog.posts import service
from blog.posts.models import PostStatus
from blog.posts.schemas import PostSummary
from blog.seeding import SeedPlan, seed
from blog.settings import Settings
from blog.tenancy import bind_tenant, cross_tenant
from blog.tenants.dependencies import get_tenant

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / ".bench" / "bench_list.db"
PLAN = SeedPlan(tenants=5, users_per_tenant=50, posts_per_user=240, comments_per_post=1, seed=7)
FAVORITES_PER_USER = 300
AUTHORLESS_SHARE = 0.03
UNICODE_TITLES = ("Привет, мир", "日本語のタイトル", 'Quotes " and \\ backslash', "emoji 🎉 \u2028")
REFERENCE = "/reference"
LIMIT = 20
DATA_VERSION = 1  # bump when what build_data() writes changes


def build_data(url: str) -> None:
    """Seed the blogs, then add what the seeder does not make: favorites, authorless posts."""
    engine = create_db_engine(url)
    metadata.create_all(engine)
    seed(engine, PLAN, hasher=PasswordHasher(rounds=4))
    rng = random.Random(PLAN.seed)  # noqa: S311 - fake data
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with new_session(engine) as session, cross_tenant(session, "benchmark data"):
        for tenant_id in session.scalars(sa.select(col(Tenant.id))).all():
            posts = session.scalars(
                sa.select(col(Post.id)).where(
                    col(Post.tenant_id) == tenant_id, col(Post.status) == PostStatus.published
                )
            ).all()
            users = session.scalars(
                sa.select(col(User.id)).where(col(User.tenant_id) == tenant_id)
            ).all()
            rows = [
                {"tenant_id": tenant_id, "user_id": user_id, "post_id": post_id, "created_at": now}
                for user_id in users
                for post_id in rng.sample(posts, FAVORITES_PER_USER)
            ]
            session.execute(sa.insert(Favorite), rows)
            for post_id in rng.sample(posts, int(len(posts) * AUTHORLESS_SHARE)):
                session.execute(
                    sa.update(Post)
                    .where(col(Post.tenant_id) == tenant_id, col(Post.id) == post_id)
                    .values(author_id=None),
                    execution_options={"synchronize_session": False},
                )
            for title, post_id in zip(UNICODE_TITLES, rng.sample(posts, 40), strict=False):
                session.execute(
                    sa.update(Post)
                    .where(col(Post.tenant_id) == tenant_id, col(Post.id) == post_id)
                    .values(title=title, description=title * 3),
                    execution_options={"synchronize_session": False},
                )
        session.commit()
    engine.dispose()


def reference_router() -> APIRouter:
    """The straightforward list, as it was: kept so every run has its own baseline."""
    router = APIRouter(prefix=REFERENCE + "/{tenant}", dependencies=[Depends(get_tenant)])

    @router.get("/posts")
    def list_posts(viewer: OptionalUser, session: SessionDep, page: PageDep) -> Page[PostSummary]:
        posts, total = service.list_posts(session, viewer=viewer, params=page)
        summaries = post_routes._marked(session, posts, viewer, PostSummary)
        return Page[PostSummary].of(summaries, total, page)

    return router


def make_app(url: str) -> FastAPI:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        bcrypt_rounds=4,
        rate_limits_enabled=False,
        log_level="WARNING",
    )
    app = create_app(settings, engine=create_db_engine(url))
    app.include_router(reference_router())
    return app


@dataclass(frozen=True)
class Blog:
    tenant_id: uuid.UUID
    slug: str
    published: int
    member: User


@dataclass(frozen=True)
class Side:
    """One implementation: its URL, and its query and shaping steps without HTTP."""

    url: Callable[[Blog], str]
    query: Callable[[Session, User | None, PageParams], Any]
    shape: Callable[[Any, User | None, PageParams], bytes]


def reference_query(session: Session, viewer: User | None, params: PageParams) -> Any:
    posts, total = service.list_posts(session, viewer=viewer, params=params)
    marks = service.favorite_marks(session, posts=posts, viewer=viewer)
    return posts, total, marks


def reference_shape(data: Any, _viewer: User | None, params: PageParams) -> bytes:
    posts, total, marks = data
    items = [
        PostSummary.model_validate(post).model_copy(
            update={"favorites_count": marks[post.id][0], "favorited": marks[post.id][1]}
        )
        for post in posts
    ]
    page = Page[PostSummary].of(items, total, params)
    return PAGE_ADAPTER.dump_json(PAGE_ADAPTER.validate_python(page))


def current_query(session: Session, viewer: User | None, params: PageParams) -> Any:
    return service.list_post_summaries(session, viewer=viewer, params=params)


def current_shape(data: Any, _viewer: User | None, params: PageParams) -> bytes:
    items, total = data
    return bytes(json_page(items, total, params).body)


PAGE_ADAPTER: TypeAdapter[Page[PostSummary]] = TypeAdapter(Page[PostSummary])
SIDES = {
    "reference": Side(
        lambda blog: f"{REFERENCE}/{blog.slug}/posts", reference_query, reference_shape
    ),
    "current": Side(
        lambda blog: f"/api/v1/tenants/{blog.slug}/posts", current_query, current_shape
    ),
}


def load_blogs(engine: Engine) -> list[Blog]:
    blogs = []
    with new_session(engine) as session, cross_tenant(session, "benchmark set-up"):
        for tenant in session.scalars(sa.select(Tenant).order_by(col(Tenant.slug))).all():
            bind_tenant(session, tenant.id)
            published = session.scalar(
                sa.select(sa.func.count()).where(col(Post.status) == PostStatus.published)
            )
            member = session.scalars(sa.select(User).order_by(col(User.username))).first()
            if not published or member is None:
                sys.exit(f"{tenant.slug}: no published posts or no members; try --fresh")
            blogs.append(Blog(tenant.id, tenant.slug, published, member))
    return blogs


def statement_counter(engine: Engine) -> list[int]:
    counter = [0]

    def count(*_: Any) -> None:
        counter[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    return counter


def run_http(
    client: TestClient,
    side: Side,
    pages: Sequence[tuple[Blog, int]],
    headers: Callable[[Blog], dict[str, str]],
) -> tuple[float, list[bytes]]:
    bodies = []
    start = time.perf_counter()
    for blog, offset in pages:
        response = client.get(
            f"{side.url(blog)}?limit={LIMIT}&offset={offset}", headers=headers(blog)
        )
        bodies.append(response.content)
    elapsed = time.perf_counter() - start
    for body in bodies:
        if not body.startswith(b'{"items":'):
            sys.exit(f"unexpected answer: {body[:200]!r}")
    return elapsed, bodies


def run_parts(
    engine: Engine, side: Side, pages: Sequence[tuple[Blog, int]], logged_in: bool
) -> tuple[float, float]:
    """Seconds spent querying, and shaping + serializing, without HTTP."""
    queried = shaped = 0.0
    for blog, offset in pages:
        params = PageParams(limit=LIMIT, offset=offset)
        viewer = blog.member if logged_in else None
        with new_session(engine) as session:
            bind_tenant(session, blog.tenant_id)
            start = time.perf_counter()
            data = side.query(session, viewer, params)
            middle = time.perf_counter()
            side.shape(data, viewer, params)
            queried += middle - start
            shaped += time.perf_counter() - middle
    return queried, shaped


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per side (default 400)")
    parser.add_argument("--rounds", type=int, default=8, help="alternations of the two sides")
    parser.add_argument("--viewer", action="store_true", help="also as a logged-in member")
    parser.add_argument("--database", type=Path, default=DEFAULT_DB)
    parser.add_argument("--fresh", action="store_true", help="rebuild the seeded database")
    parser.add_argument("--seed", type=int, default=1, help="of the random pages")
    args = parser.parse_args()

    path = args.database.with_suffix(f".v{DATA_VERSION}.db")
    if args.fresh:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    url = f"sqlite:///{path}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"seeding {path} ...", flush=True)
        started = time.perf_counter()
        build_data(url)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)

    app = make_app(url)
    engine: Engine = app.state.engine
    blogs = load_blogs(engine)
    print(f"{len(blogs)} blogs, published posts: {', '.join(str(b.published) for b in blogs)}")
    rng = random.Random(args.seed)  # noqa: S311 - page picks

    def random_pages(count: int) -> list[tuple[Blog, int]]:
        """Like list-deep of ``python -m bench``: any blog, any page of it."""
        picks = rng.choices(blogs, k=count)
        return [(blog, LIMIT * rng.randrange(blog.published // LIMIT)) for blog in picks]

    tokens = {
        blog.slug: app.state.auth.tokens.issue(user_id=blog.member.id, tenant_id=blog.tenant_id)
        for blog in blogs
    }
    statements = statement_counter(engine)
    per_round = max(1, args.requests // args.rounds)
    with TestClient(app) as client:
        for logged_in in [False, True] if args.viewer else [False]:

            def headers(blog: Blog, logged_in: bool = logged_in) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[blog.slug]}"} if logged_in else {}

            elapsed = dict.fromkeys(SIDES, 0.0)
            done = dict.fromkeys(SIDES, 0)
            per_request = {}
            for name, side in SIDES.items():  # warm up; count statements per request
                run_http(client, side, random_pages(5), headers)
                before = statements[0]
                run_http(client, side, [(blogs[0], 100)], headers)
                per_request[name] = statements[0] - before
            for round_number in range(args.rounds):
                pages = random_pages(per_round)
                answers = {}
                order = list(SIDES) if round_number % 2 == 0 else list(reversed(SIDES))
                for name in order:
                    seconds, answers[name] = run_http(client, SIDES[name], pages, headers)
                    elapsed[name] += seconds
                    done[name] += len(pages)
                for (blog, offset), old, new in zip(
                    pages, answers["reference"], answers["current"], strict=True
                ):
                    if json.loads(old) != json.loads(new):
                        sys.exit(f"{blog.slug} offset {offset}: current differs from reference")
            rates = {name: done[name] / elapsed[name] for name in SIDES}
            print(
                f"\n{'logged in' if logged_in else 'anonymous'}: GET /posts?limit={LIMIT}"
                f"&offset=<random page>, {done['current']} requests per side, same answers"
            )
            for name in SIDES:
                print(
                    f"  {name:10} {rates[name]:8.1f} req/s"
                    f"   {per_request[name]} statements per request"
                )
            print(f"  ratio current/reference: {rates['current'] / rates['reference']:.2f}x")

            pages = random_pages(per_round * 2)
            print("  without HTTP, ms per page: query + shaping and serialization")
            for name, side in SIDES.items():
                queried, shaped = run_parts(engine, side, pages, logged_in)
                print(
                    f"  {name:10} {queried / len(pages) * 1e3:7.2f} + "
                    f"{shaped / len(pages) * 1e3:5.2f}"
                )


if __name__ == "__main__":
    main()
