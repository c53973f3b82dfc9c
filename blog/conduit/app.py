"""The RealWorld ("Conduit") API, one per blog, mounted at ``/conduit/{tenant}/api``.

A sub-application, so that it has the spec's own OpenAPI document (at
``/conduit/{tenant}/api/openapi.json``, with that blog's URL as its server) and its
own error dialect, while sharing the parent's engine, settings, auth and middleware
(CORS, security headers, body limit).
"""

from functools import cache

from fastapi import APIRouter, Depends, FastAPI
from starlette.datastructures import State
from starlette.routing import BaseRoute

from blog.conduit import routes
from blog.conduit.dependencies import get_tenant
from blog.conduit.errors import conduit_responses, render_conduit_problem
from blog.errors import Render, install_error_handlers, render_problem

MOUNT_PATH = "/conduit/{tenant}/api"

DESCRIPTION = """
The [RealWorld](https://realworld-docs.netlify.app/) API of one blog: point any
RealWorld frontend at `http://<host>/conduit/<blog>/api`.

Send `Authorization: Token <jwt>` with the `token` from registering or logging in.
Errors are `{"errors": {"<field or resource>": ["<message>", ...]}}`.
"""


PATH_PREFIX = MOUNT_PATH.split("{", 1)[0]  # "/conduit/"


def render_for(path: str) -> Render:
    """The error dialect of ``path``, for answers made before routing (the body limit)."""
    return render_conduit_problem if path.startswith(PATH_PREFIX) else render_problem


def create_conduit_app(state: State) -> FastAPI:
    """The RealWorld API over the parent app's ``state`` (engine, settings, auth, limiter)."""
    conduit = FastAPI(
        title="RealWorld Conduit API",
        version="2.0.0",
        description=DESCRIPTION,
        dependencies=CONDUIT_DEPENDENCIES,
        responses=CONDUIT_RESPONSES,
    )
    conduit.state = state
    install_error_handlers(conduit, render=render_conduit_problem)
    conduit.router.routes.extend(_conduit_routes())
    return conduit


CONDUIT_DEPENDENCIES = [Depends(get_tenant)]
CONDUIT_RESPONSES = conduit_responses(404, 422, 500, 503)


@cache
def _conduit_routes() -> tuple[BaseRoute, ...]:
    """Its routes, built once per process (see ``blog.app._api_routes``)."""
    api = APIRouter(dependencies=CONDUIT_DEPENDENCIES, responses=CONDUIT_RESPONSES)
    api.include_router(routes.router)
    return tuple(api.routes)
