"""The application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import cache

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from blog import health, problem_types
from blog.auth import routes as auth_routes
from blog.auth.cookies import CSRF_HEADER
from blog.auth.security import AuthConfig, PasswordHasher, TokenCodec
from blog.background import BackgroundWork
from blog.cache import ResponseCache, lookups_for
from blog.conduit import app as conduit
from blog.database import create_db_engine, rls_escape_reasons
from blog.errors import document_problems, install_error_handlers, responses
from blog.feeds import routes as feed_routes
from blog.jobs.queue import JobQueue, attach_queue
from blog.keys import API_KEY_HEADER
from blog.keys import routes as key_routes
from blog.keys.dependencies import get_key_caller
from blog.mail import Mailer
from blog.media import routes as media_routes
from blog.media import serving as media_serving
from blog.media.storage import storage_from_settings
from blog.middleware import BodySizeLimit, SecurityHeaders
from blog.observability import metrics, tracing
from blog.observability.middleware import REQUEST_ID_HEADER, RequestLog
from blog.openapi import operation_id
from blog.posts import routes as post_routes
from blog.ratelimit import RateLimiter
from blog.revisions import routes as revision_routes
from blog.settings import Settings, get_settings
from blog.shutdown import ShutdownSignal
from blog.tenants import routes as tenant_routes
from blog.tenants.dependencies import get_tenant
from blog.users import routes as user_routes
from blog.webhooks import routes as webhook_routes

logger = logging.getLogger(__name__)

# How long shutdown waits for queued mail before it is dropped.
SHUTDOWN_BACKGROUND_SECONDS = 10

API_DESCRIPTION = """
A multi-tenant blog API. Every blog (tenant) lives under `/api/v1/tenants/{tenant}`.

**Trying it here:** call `POST /api/v1/tenants/{tenant}/auth/token` with "Try it out"
(`username` = email or username), copy `access_token` from the response, press
**Authorize** and paste it. The token only works under its own tenant's paths.

Each blog also speaks the [RealWorld](https://realworld-docs.netlify.app/) API at
`/conduit/{tenant}/api` (its own document: `/conduit/{tenant}/api/docs`).
"""


def build_auth_config(settings: Settings, mailer: Mailer | None = None) -> AuthConfig:
    """The auth services' configuration; without ``mailer`` (commands) no mail is sent."""
    return AuthConfig(
        hasher=PasswordHasher(rounds=settings.bcrypt_rounds),
        tokens=TokenCodec(
            settings.secret_key.get_secret_value(),
            lifetime=timedelta(minutes=settings.access_token_minutes),
        ),
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        mailer=mailer,
        frontend_url=settings.frontend_url,
        reset_lifetime=timedelta(minutes=settings.password_reset_minutes),
        email_link_lifetime=timedelta(hours=settings.email_link_hours),
    )


def _check_row_level_security(engine: Engine, settings: Settings) -> None:
    """Refuse (production) or warn when the app's database role would escape RLS."""
    try:
        reasons = rls_escape_reasons(engine)
    except SQLAlchemyError:
        logger.warning("database unreachable at startup; row-level security not checked")
        return
    if not reasons:
        return
    message = (
        f"the database role in BLOG_DATABASE_URL {' and '.join(reasons)}, so PostgreSQL "
        "row-level security does not apply to it; connect as a role that does not own the "
        "tables and run migrations with BLOG_MIGRATION_DATABASE_URL"
    )
    if settings.environment == "production":
        raise RuntimeError(message)
    logger.warning(message)


APP_RESPONSES = responses(500, 503)


class BlogApp(FastAPI):
    """The request log (and request id) wraps the whole app: Starlette puts its handler of
    unexpected errors outside every added middleware, and its 500s need the id too."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestLog(super().build_middleware_stack())


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the API. Tests pass their own settings and engine; servers use the environment."""
    settings = settings or get_settings()
    metrics.check_process_mode()
    engine = engine or create_db_engine(settings.database_url)
    metrics.instrument_pool(engine, "app")
    logging.getLogger("blog").setLevel(settings.log_level)
    lookups = lookups_for(engine)
    attach_queue(engine, JobQueue(settings.jobs_url, name=settings.jobs_queue))
    background = BackgroundWork(
        max_size=settings.background_queue_size,
        retry_delay_seconds=settings.background_retry_seconds,
    )

    shutdown = ShutdownSignal(deadline_seconds=settings.shutdown_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with shutdown.watching():  # readiness answers 503 from the signal on
            _check_row_level_security(engine, settings)
            yield
        # Jobs may still use the database: they finish (or give up) before it goes.
        await run_in_threadpool(background.close, SHUTDOWN_BACKGROUND_SECONDS)
        engine.dispose()
        await lookups.close()
        metrics.process_exiting()

    app = BlogApp(
        title="blog",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        responses=APP_RESPONSES,
        telemetry=tracing.telemetry_config(),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.shutdown = shutdown
    app.state.background = background
    app.state.mailer = mailer = Mailer(settings, background)
    app.state.auth = auth = build_auth_config(settings, mailer)
    app.state.rate_limiter = RateLimiter(engine, enabled=settings.rate_limits_enabled)
    app.state.media_storage = storage_from_settings(settings)

    # Added innermost first: security headers and CORS wrap everything, errors included;
    # the cache stores responses with their security headers, and CORS answers each origin.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        render_for=conduit.render_for,
        larger_for=media_serving.upload_limit(settings),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        ResponseCache,
        lookups=lookups,
        tokens=auth.tokens,
        max_bytes=settings.response_cache_mb * 1024 * 1024,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        # Credentials: the refresh cookie of ``?refresh_in=cookie`` logins, for these
        # origins only (never with a wildcard).
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Requested-With",
            CSRF_HEADER,
            API_KEY_HEADER,
            REQUEST_ID_HEADER,
        ],
        expose_headers=[REQUEST_ID_HEADER, "Link", "X-Total-Count"],
        max_age=600,
    )
    install_error_handlers(app)
    document_problems(app)

    app.router.routes.extend(_api_routes())
    app.add_api_route(metrics.METRICS_PATH, metrics.metrics_endpoint, include_in_schema=False)
    app.mount(conduit.MOUNT_PATH, conduit.create_conduit_app(app.state))
    if media_serving.served_locally(settings):
        app.mount(settings.media_url.rstrip("/"), media_serving.media_files(settings))
    return app


@cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, the same for every app: built once per process, as including a
    router analyses every dependency of every route again (most of an app's making)."""
    # Every route under a tenant's path binds the session to that tenant first, then
    # checks a presented API key (a bad one is a 401 even where none is needed).
    tenant_api = APIRouter(
        prefix="/api/v1/tenants/{tenant}",
        dependencies=[Depends(get_tenant), Depends(get_key_caller)],
        responses=responses(404, 422),
    )
    tenant_api.include_router(auth_routes.router)
    tenant_api.include_router(user_routes.router)
    tenant_api.include_router(post_routes.router)
    tenant_api.include_router(revision_routes.router)
    tenant_api.include_router(webhook_routes.router)
    tenant_api.include_router(key_routes.router)
    tenant_api.include_router(media_routes.router)

    api = APIRouter(responses=APP_RESPONSES, generate_unique_id_function=operation_id)
    api.include_router(health.router)
    api.include_router(problem_types.router)
    api.include_router(tenant_routes.router)
    api.include_router(tenant_api)
    api.include_router(feed_routes.router)
    return tuple(api.routes)
