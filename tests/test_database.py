"""Transaction semantics the services rely on, on both databases."""

import subprocess
import sys
from pathlib import Path

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


LOOKUPS_FROM_MANY_THREADS = """
import sys, threading
from blog.database import create_db_engine
from blog.models import metadata

url = sys.argv[1]
metadata.create_all(create_db_engine(url))
lookup = create_db_engine(url, lookup=True)

def look() -> None:
    for _ in range(200):
        with lookup.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM tenants, users").all()

threads = [threading.Thread(target=look) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_sqlite_lookups_from_many_threads_at_once_never_crash(tmp_path: Path) -> None:
    """The response cache's SQLite lookups run on every event loop that serves the app
    (tests run many). A pool of one connection per thread closed another thread's
    connection mid-query past its size, and the process died (SIGSEGV); in a child
    process here, so that a crash fails this test instead of the whole run."""
    url = f"sqlite:///{tmp_path / 'lookups.db'}"

    child = subprocess.run(  # noqa: S603 - this interpreter, a script of ours
        [sys.executable, "-c", LOOKUPS_FROM_MANY_THREADS, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert child.returncode == 0, child.stderr[-2000:]
