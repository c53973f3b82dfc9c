"""Does an account request tell, by its timing, whether an account exists? And what does
checking the token generation cost?

    python -m bench.account_timing                 # SQLite, 400 rounds
    python -m bench.account_timing --rounds 1000 --postgres postgresql://postgres@127.0.0.1:5432/test

For each database, in one run, on one app (its rate limits on, set high enough not to
trip), interleaving the two kinds of request so that the machine's load hits both alike:
  * ``POST …/auth/password/forgot`` for an address that has an account, and for one that
    has none: median and 90th percentile of each, their ratio, and the SQL statements each
    ran (both must run the same ones: only the rate-limit counters);
  * ``GET …/users/me``: the statements it runs (the user's row only: the generation check
    rides on it).
Timings are in-process (TestClient), so they show the app's own work, not the network.
"""

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from blog.app import create_app
from blog.database import create_db_engine, grant_app_role, new_session
from blog.models import metadata
from blog.settings import Settings
from blog.tenancy import cross_tenant
from blog.testing import factories
from blog.testing.plugin import (
    APP_ROLE,
    create_postgres_database,
    drop_postgres_database,
    ensure_app_role,
)

SECRET = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 - a throwaway app's
BACKGROUND_THREAD = "blog-background"


@contextmanager
def database(postgres: str | None) -> Iterator[tuple[str, str]]:
    """(owner URL, app URL) of an empty, migrated database, removed afterwards."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'timing.db'}"
            engine = create_db_engine(url)
            metadata.create_all(engine)
            engine.dispose()
            yield url, url
        return
    from alembic import command

    from blog.cli import alembic_config

    owner_url = create_postgres_database(postgres, prefix="blog_timing")
    try:
        command.upgrade(alembic_config(owner_url), "head")
        ensure_app_role(owner_url)
        owner = create_db_engine(owner_url)
        grant_app_role(owner, APP_ROLE)
        owner.dispose()
        app_url = sa.make_url(owner_url).set(username=APP_ROLE)
        yield owner_url, app_url.render_as_string(hide_password=False)
    finally:
        drop_postgres_database(owner_url)


class Statements:
    """Counts the statements a request runs on an engine while active (not those of the
    background work it queued, which runs on its own thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.seen = engine, 0

    def _count(self, *_: Any) -> None:
        if threading.current_thread().name != BACKGROUND_THREAD:
            self.seen += 1

    def __enter__(self) -> "Statements":
        self.seen = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def measure(label: str, postgres: str | None, rounds: int) -> None:
    with database(postgres) as (owner_url, app_url):
        owner = create_db_engine(owner_url)
        with new_session(owner) as session, cross_tenant(session, "arranging bench data"):
            factories.bind_session(session)
            tenant = factories.TenantFactory.create()
            member = factories.UserFactory.create(tenant=tenant)
            slug, email = tenant.slug, member.email
            generation, user_id, tenant_id = member.token_generation, member.id, tenant.id
            factories.bind_session(None)
        owner.dispose()
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=app_url,
            secret_key=SECRET,  # type: ignore[arg-type]
            bcrypt_rounds=4,
            password_resets_per_hour=10 * rounds,
            auth_requests_per_minute_per_address=10 * rounds,
            background_queue_size=4 * rounds,
        )
        engine = create_db_engine(app_url)
        app = create_app(settings, engine=engine)
        forgot = f"/api/v1/tenants/{slug}/auth/password/forgot"
        with TestClient(app) as client:

            def ask(address: str) -> Callable[[], Any]:
                return lambda: client.post(forgot, json={"email": address})

            known, unknown = ask(email), ask("nobody@example.com")
            for call in (known, unknown) * 10:  # warm up
                call()
            # The rate limits count on the limiter's own connection (engine-wide listener).
            with Statements(engine) as known_statements:
                known()
            with Statements(engine) as unknown_statements:
                unknown()
            times: dict[str, list[float]] = {"account": [], "no account": []}
            for number in range(rounds):
                # Each kind goes first half of the time: a request right after a known
                # address's meets that address's background work (its lookup and mail).
                order = [("account", known), ("no account", unknown)]
                for name, call in order if number % 2 else reversed(order):
                    times[name].append(timed(call))
            app.state.background.drain(60)

            token = app.state.auth.tokens.issue(
                user_id=user_id, tenant_id=tenant_id, generation=generation
            )
            me = f"/api/v1/tenants/{slug}/users/me"
            client.get(me, headers={"Authorization": f"Bearer {token}"})
            with Statements(engine) as me_statements:
                answer = client.get(me, headers={"Authorization": f"Bearer {token}"})
            if not answer.is_success:
                raise SystemExit(f"GET /users/me failed: {answer.status_code}")
        engine.dispose()

    print(f"\n{label}: POST /auth/password/forgot, {rounds} of each, interleaved, in turn first")
    print(f"  {'address':<12} {'median ms':>10} {'p90 ms':>8} {'statements':>11}")
    statements = {"account": known_statements.seen, "no account": unknown_statements.seen}
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:<12} {statistics.median(values):>10.3f} {p90:>8.3f} {statements[name]:>11}")
    ratio = statistics.median(times["account"]) / statistics.median(times["no account"])
    print(f"  median ratio (account / no account): {ratio:.3f}")
    print(f"GET /users/me: {me_statements.seen} statement(s) (the user's row)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--postgres", help="also on this PostgreSQL server (a URL)")
    args = parser.parse_args()
    measure("SQLite", None, args.rounds)
    if args.postgres:
        measure("PostgreSQL", args.postgres, args.rounds)


if __name__ == "__main__":
    main()
