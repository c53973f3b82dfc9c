"""The factories' commits: each row at once, or a whole graph at the end of one_commit()."""

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from blog.tenants.models import Tenant
from tests.cli import count
from tests.factories import PostFactory, UserFactory, one_commit


def test_each_row_is_committed_at_once(db: Session, tenant: Tenant, owner_engine: Engine) -> None:
    UserFactory.create(tenant=tenant)

    assert count(owner_engine, "users", tenant.id) == 1


def test_one_commit_commits_the_graph_when_it_ends(
    db: Session, tenant: Tenant, owner_engine: Engine
) -> None:
    with one_commit():
        author = UserFactory.create(tenant=tenant)
        with one_commit():  # nested: still nothing committed when it ends
            PostFactory.create(author=author, tags=["a", "b"])
        assert count(owner_engine, "users", tenant.id) == 0
        assert count(owner_engine, "post_tags", tenant.id) == 0

    assert count(owner_engine, "users", tenant.id) == 1
    assert count(owner_engine, "post_tags", tenant.id) == 2


def test_one_commit_commits_nothing_when_the_block_fails(
    db: Session, tenant: Tenant, owner_engine: Engine
) -> None:
    def build() -> None:
        with one_commit():
            UserFactory.create(tenant=tenant)
            raise RuntimeError("the fixture failed")

    with pytest.raises(RuntimeError):
        build()
    db.rollback()

    assert count(owner_engine, "users", tenant.id) == 0
