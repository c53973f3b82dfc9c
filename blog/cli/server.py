"""``blog serve`` and ``blog demo``."""

import os
import signal
from types import FrameType
from typing import Annotated

import typer
from sqlmodel import select

from blog.cli.common import DatabaseUrl, console, database, load_settings, platform_session
from blog.observability.metrics import share_between_workers

DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@demo.example"
DEMO_USERNAME = "demo-owner"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed for the local demo on purpose


def demo(database_url: DatabaseUrl = None) -> None:
    """Create a demo blog with an owner account, if the database has no blog yet.

    Example: blog demo
    """
    from blog.app import build_auth_config
    from blog.tenants import service as tenants_service
    from blog.tenants.models import Tenant
    from blog.tenants.schemas import TenantCreate
    from blog.users.schemas import UserCreate

    settings = load_settings(database_url)
    with (
        database(settings.database_url) as engine,
        platform_session(engine, "creating the demo blog") as session,
    ):
        if session.exec(select(Tenant.id).limit(1)).first() is not None:
            console.print("Database already has blogs; no demo created.")
            return
        tenants_service.create_tenant(
            session,
            hasher=build_auth_config(settings).hasher,
            data=TenantCreate(
                slug=DEMO_SLUG,
                name="Demo blog",
                owner=UserCreate(email=DEMO_EMAIL, username=DEMO_USERNAME, password=DEMO_PASSWORD),
            ),
        )
    console.print(
        f"Created the demo blog [bold]{DEMO_SLUG}[/bold]. Log in as "
        f"[bold]{DEMO_EMAIL}[/bold] / [bold]{DEMO_PASSWORD}[/bold]."
    )


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM once uvicorn has shut down gracefully (it raises the signal again): a stop
    that was asked for is a success, exit status 0, not death by signal (143)."""
    raise SystemExit(0)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the API with uvicorn (uvloop and httptools).

    SIGTERM stops it gracefully: readiness answers 503 at once, no new connection is
    taken, requests in flight finish, then it exits 0; if that takes more than
    BLOG_SHUTDOWN_SECONDS it stops at once (exit 1), cutting what is still running.

    Example: blog serve --host 0.0.0.0 --port 8000 --workers 4
    """
    import uvicorn

    from blog.observability.logs import logging_config

    settings = load_settings(database_url)
    with database(settings.database_url):
        pass  # a bad URL or a missing driver is one line here, not a traceback per worker
    if database_url:
        # Workers (and --reload) build the app from the environment, as a deployment does.
        os.environ["BLOG_DATABASE_URL"] = database_url
        os.environ.pop("BLOG_MIGRATION_DATABASE_URL", None)
    console.print(f"API docs: http://{host}:{port}/docs")
    share_between_workers(workers)  # before they start: they inherit where to write
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.run(
            "blog.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            loop="uvloop",
            http="httptools",
            log_level=settings.log_level.lower(),
            # One format for every line (BLOG_LOG_FORMAT); blog.requests logs each request, in
            # place of uvicorn's access log.
            log_config=logging_config(settings),
            access_log=False,
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
            server_header=False,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
