"""The search benchmark (bench/search.py) runs end to end on a tiny blog, on the test's
database (on PostgreSQL as the app's role, under row-level security).

The timings are not checked, only what they are timings of: the anchor finds what the
substring scan finds, the search what list_posts finds.
"""

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench.search import measure, plan_for
from blog.auth.security import PasswordHasher
from blog.posts.models import Post, PostStatus
from blog.seeding import seed

PLAN = plan_for(300)
QUERY = "mountain river"


@pytest.fixture
def seeded(engine: Engine) -> None:
    seed(engine, PLAN, hasher=PasswordHasher(rounds=4))


@pytest.mark.usefixtures("seeded")
def test_measures_the_scan_and_both_orders_of_the_search(
    engine: Engine, owner_engine: Engine
) -> None:
    [row] = measure(engine, PLAN.slug(0), [QUERY], repeat=1)

    with owner_engine.connect() as connection:  # raw-sql: the owner counts every blog's rows
        published = connection.execute(
            sa.select(col(Post.title), col(Post.description), col(Post.body)).where(
                col(Post.status) == PostStatus.published
            )
        ).all()
    holding = [post for post in published if any(QUERY in text.lower() for text in post)]
    both = [post for post in published if all(w in " ".join(post).lower() for w in QUERY.split())]
    assert row.substring_matches == len(holding)
    assert 0 < row.matches <= len(both)  # stemmed words, so fewer raw hits are possible
    assert min(row.substring_ms, row.relevance_ms, row.newest_ms) > 0
    if row.database == "sqlite":  # PostgreSQL's planner scans so small a table instead
        assert "VIRTUAL TABLE INDEX" in row.plan
