"""pytest fixtures for testing the API through HTTP.

Enable with ``pytest_plugins = ["blog.testing.plugin"]`` in ``conftest.py``. Then::

    def test_profile(client, tenant, user, auth_headers):
        me = user(role=Role.editor)
        response = client.get(f"/api/v1/tenants/{tenant.slug}/users/me", headers=auth_headers(me))
        assert response.json()["role"] == "editor"

Runs on SQLite by default; ``--db postgres`` runs on a fresh database created on the
server named by ``BLOG_TEST_POSTGRES_URL`` (and dropped afterwards), migrated by
Alembic as the owner, while the app under test connects as ``blog_app``: a role that
owns nothing and cannot bypass row-level security, as in production. Every test
starts with empty tables.

Mail goes to the console backend (logged) unless a module sends it to ``mail_server``, a
real SMTP server on loopback::

    @pytest.fixture
    def settings(settings: Settings, mail_server: MailServer) -> Settings:
        return mail_server.settings_for(settings)

    def test_reset(client, mail_server, ...):
        ...
        (message,) = mail_server.wait_for("ada@example.com")
        token = token_in(message)  # from blog.testing.mail

Mail leaves in the background, after the response: ``wait_for`` it, or
``app.state.background.drain(5)`` before asserting that none was sent.

Every log line of the run is kept, and at its end checked for secrets
(:mod:`blog.testing.logscan`): shapes of tokens, hashes, keys and cookies, and every
secret that went through a ``client``. A line holding one fails the run (an error at the
teardown of its last test).
"""

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from blog.app import create_app
from blog.database import create_db_engine, grant_app_role, new_session, normalize_database_url
from blog.models import metadata
from blog.settings import Settings
from blog.tenancy import cross_tenant
from blog.tenants.models import Tenant
from blog.testing import factories
from blog.testing.factories import DEFAULT_PASSWORD, TenantFactory, UserFactory
from blog.testing.logscan import CaptureHandler, LogScan
from blog.testing.mail import MailServer
from blog.users.models import Role, User

POSTGRES_URL_VARIABLE = "BLOG_TEST_POSTGRES_URL"
APP_ROLE = "blog_app"
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help=f"database backend for the tests (postgres needs {POSTGRES_URL_VARIABLE})",
    )


def postgres_server_url() -> str:
    """The PostgreSQL server to test on; exits the run (never skips) if it is unusable."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.exit(f"--db postgres needs {POSTGRES_URL_VARIABLE}", returncode=2)
    return url


def _psycopg_url(url: str) -> str:
    return (
        make_url(normalize_database_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def create_postgres_database(server_url: str, prefix: str = "blog_test") -> str:
    """Create an empty database on the server; return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(_psycopg_url(server_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL at {server_url} is unreachable: {exc}", returncode=3)
    return (
        make_url(normalize_database_url(server_url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def ensure_app_role(server_url: str, role: str = APP_ROLE) -> None:
    """A login role with no special powers (no superuser, no BYPASSRLS, owns nothing)."""
    with psycopg.connect(_psycopg_url(server_url), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')


def drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    server = url.set(database="postgres").set(drivername="postgresql")
    with psycopg.connect(
        server.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def log_scan() -> Iterator[LogScan]:
    """Keeps every log line of the run; at its end, fails if any holds a secret."""
    scan = LogScan()
    scan.add_secret(DEFAULT_PASSWORD)
    scan.add_secret(TEST_SECRET_KEY)
    handler = CaptureHandler(scan)
    root = logging.getLogger()
    root.addHandler(handler)
    yield scan
    root.removeHandler(handler)
    findings = scan.findings()
    if findings:
        shown = "\n".join(str(finding) for finding in findings[:20])
        pytest.fail(f"{len(findings)} log lines of this run hold secrets:\n{shown}", pytrace=False)


@pytest.fixture(scope="session")
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.config.getoption("--db")
    return backend


@pytest.fixture(scope="session")
def owner_database_url(
    database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database for the whole run, as its owner (tables are emptied after every test)."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = create_postgres_database(postgres_server_url())
    yield url
    drop_postgres_database(url)


@pytest.fixture
def empty_database_url(
    database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database with no tables at all, as its owner, apart from the one other tests use
    (for migrations, and for commands run on a database not set up yet)."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('empty') / 'empty.db'}"
        return
    url = create_postgres_database(postgres_server_url(), prefix="blog_empty")
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def owner_engine(owner_database_url: str, database_backend: str) -> Iterator[Engine]:
    """Builds the schema and empties tables; on PostgreSQL it bypasses row-level security."""
    from alembic import command

    from blog.cli import alembic_config

    engine = create_db_engine(owner_database_url)
    # The migrations, not the models, on both databases: they also make what the models do
    # not describe (the search index, row-level security).
    command.upgrade(alembic_config(owner_database_url), "head")
    if database_backend == "postgres":
        ensure_app_role(owner_database_url)
        grant_app_role(engine, APP_ROLE)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(owner_database_url: str, database_backend: str, owner_engine: Engine) -> str:
    """What the app under test connects with: on PostgreSQL the unprivileged app role."""
    if database_backend == "sqlite":
        return owner_database_url
    return make_url(owner_database_url).set(username=APP_ROLE).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _app_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def engine(_app_engine: Engine, owner_engine: Engine) -> Iterator[Engine]:
    """The app's engine (app role on PostgreSQL); every table is emptied after the test."""
    yield _app_engine
    empty_all_tables(owner_engine)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        bcrypt_rounds=4,
        cors_origins=["http://localhost:5173"],
        background_retry_seconds=0.01,
        jobs_url="memory://",  # announcements go nowhere: tests run jobs with run_jobs
        media_root=tmp_path / "media",  # uploads: the test's own directory
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    app = create_app(settings, engine=engine)
    yield app
    app.state.background.close(5)  # its worker, when the test did not run the lifespan


@pytest.fixture
def run_jobs(engine: Engine, settings: Settings) -> Callable[..., int]:
    """``run_jobs(now=None)``: run every job due (as of ``now``) in this thread; how many ran."""
    from blog.jobs.runner import run_due

    def run(now: datetime | None = None) -> int:
        return run_due(engine, settings, now=now)

    return run


@pytest.fixture
def mail_server(log_scan: LogScan) -> Iterator[MailServer]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives (see the module's
    docstring for sending the app's mail to it)."""
    server = MailServer()
    server.start()
    yield server
    server.stop()
    log_scan.add_mailed(received.message for received in server.received)


@pytest.fixture
def client(app: FastAPI, log_scan: LogScan) -> Iterator[TestClient]:
    """The app over HTTP; the secrets it sends and receives are looked for in the logs."""
    with TestClient(app) as test_client:
        test_client.event_hooks = {
            "request": [log_scan.on_request],
            "response": [log_scan.on_response],
        }
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for arranging data (factories write through it) across tenants."""
    with new_session(engine) as session, cross_tenant(session, "arranging test data"):
        factories.bind_session(session)
        try:
            yield session
        finally:
            factories.bind_session(None)


@pytest.fixture
def tenant(db: Session) -> Tenant:
    """A blog to test in."""
    created: Tenant = TenantFactory.create()
    return created


@pytest.fixture
def other_tenant(db: Session) -> Tenant:
    """A second blog, for proving isolation."""
    created: Tenant = TenantFactory.create()
    return created


@pytest.fixture
def user(db: Session, tenant: Tenant) -> Callable[..., User]:
    """Make a user: ``user(role=Role.admin)``, in ``tenant`` unless ``tenant=`` says otherwise."""

    def make(role: Role = Role.author, **fields: Any) -> User:
        fields.setdefault("tenant", tenant)
        made: User = UserFactory.create(role=role, **fields)
        return made

    return make


@pytest.fixture
def auth_headers(app: FastAPI) -> Callable[[User], dict[str, str]]:
    """``auth_headers(user)``: an ``Authorization`` header with a fresh access token."""

    def headers(for_user: User) -> dict[str, str]:
        token = app.state.auth.tokens.issue(
            user_id=for_user.id,
            tenant_id=for_user.tenant_id,
            generation=for_user.token_generation,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers
