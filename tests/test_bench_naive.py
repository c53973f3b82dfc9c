"""The benchmark's naive peer (bench/naive.py) serves the real app's list on the same data.

Its own table classes map the real tables (composite keys, UTC timestamps, row-level
security on PostgreSQL): a page from it must equal the real app's page, or list-deep's
"4x the naive peer" would compare against something else.
"""

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench import naive
from blog.auth.security import PasswordHasher
from blog.models import Favorite, Post, User
from blog.posts.models import PostStatus
from blog.seeding import SeedPlan, seed

PLAN = SeedPlan(tenants=2, users_per_tenant=4, posts_per_user=12, comments_per_post=1, tags=8)


def without_favorited(page: dict[str, Any]) -> dict[str, Any]:
    """The real page less the caller's own marks and the cursor, which the naive peer (an
    offset list, for anyone) does not have."""
    items = [
        {key: value for key, value in item.items() if key != "favorited"} for item in page["items"]
    ]
    return {key: value for key, value in page.items() if key != "next"} | {"items": items}


@pytest.fixture
def seeded(engine: Engine, owner_engine: Engine) -> None:
    seed(engine, PLAN, hasher=PasswordHasher(rounds=4))
    with owner_engine.begin() as connection:
        # Three published posts of every blog (unordered, one blog could have had them all).
        numbered = (
            sa.select(
                col(Post.tenant_id),
                col(Post.id),
                sa.func.row_number()
                .over(partition_by=col(Post.tenant_id), order_by=col(Post.id))
                .label("n"),
            )
            .where(col(Post.status) == PostStatus.published)
            .subquery()
        )
        posts = connection.execute(
            sa.select(numbered.c.tenant_id, numbered.c.id).where(numbered.c.n <= 3)
        ).all()
        users = connection.execute(sa.select(col(User.tenant_id), col(User.id))).all()
        rows = [
            {"tenant_id": tenant_id, "user_id": user_id, "post_id": post_id}
            for tenant_id, post_id in posts
            for user_tenant, user_id in users
            if user_tenant == tenant_id
        ]
        connection.execute(sa.insert(Favorite).values(rows))


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("offset", [0, 7, 35])
def test_pages_equal_the_real_apps(client: TestClient, engine: Engine, offset: int) -> None:
    peer = TestClient(naive.create_app(engine))
    path = f"/api/v1/tenants/{PLAN.slug(1)}/posts?limit=5&offset={offset}"

    real, theirs = client.get(path), peer.get(path)

    assert theirs.status_code == 200, theirs.text
    assert theirs.json() == without_favorited(real.json())
    assert theirs.json()["items"], "the page should not be empty"


@pytest.mark.usefixtures("seeded")
def test_favorites_are_counted(engine: Engine) -> None:
    peer = TestClient(naive.create_app(engine))
    items = peer.get(f"/api/v1/tenants/{PLAN.slug(0)}/posts?limit=100").json()["items"]
    assert sum(item["favorites_count"] for item in items) >= PLAN.users_per_tenant


@pytest.mark.usefixtures("seeded")
def test_an_unknown_blog_is_a_404(engine: Engine) -> None:
    peer = TestClient(naive.create_app(engine))
    assert peer.get("/api/v1/tenants/nope/posts").status_code == 404
