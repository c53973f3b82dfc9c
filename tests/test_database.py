"""Transaction semantics the services rely on, on both databases."""

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from blog.database import new_session
from blog.tenants.models import Tenant


def tenant_slugs(engine: Engine) -> set[str]:
    with new_session(engine) as session:
        return set(session.exec(select(Tenant.slug)).all())


def test_rollback_undoes_every_write_of_the_unit_of_work(engine: Engine) -> None:
    with new_session(engine) as session:
        session.add(Tenant(slug="first", name="First"))
        session.flush()
        session.add(Tenant(slug="second", name="Second"))
        session.flush()
        session.rollback()

    assert tenant_slugs(engine) == set()


def test_failed_savepoint_keeps_the_outer_transaction(engine: Engine) -> None:
    with new_session(engine) as session:
        session.add(Tenant(slug="kept", name="Kept"))
        session.flush()
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.add(Tenant(slug="kept", name="Duplicate"))
        session.add(Tenant(slug="after", name="After"))
        session.commit()

    assert tenant_slugs(engine) == {"kept", "after"}


def test_savepoint_as_first_write_still_belongs_to_the_transaction(engine: Engine) -> None:
    """Releasing the first savepoint must not commit: the request can still fail."""
    with new_session(engine) as session:
        with session.begin_nested():
            session.add(Tenant(slug="inside", name="Inside"))
        session.rollback()

    assert tenant_slugs(engine) == set()


def test_a_session_reads_what_others_committed_before_it_writes(engine: Engine) -> None:
    with new_session(engine) as reader, new_session(engine) as writer:
        assert reader.exec(select(Tenant)).all() == []
        writer.add(Tenant(slug="fresh", name="Fresh"))
        writer.commit()

        assert [t.slug for t in reader.exec(select(Tenant)).all()] == ["fresh"]
