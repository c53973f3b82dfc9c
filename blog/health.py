"""Liveness and readiness probes."""

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from blog.errors import error_response, responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/health", summary="The process is up")
def live() -> Health:
    return Health()


@router.get(
    "/health/ready",
    responses=responses(503),
    summary="The database answers, and the server is not shutting down",
    response_model=Health,
)
def ready(request: Request) -> Health | JSONResponse:
    if request.app.state.shutdown.received:
        # In flight requests still finish; a load balancer should send no more.
        return error_response(503, "The server is shutting down.", "shutting_down")
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return error_response(503, "The database is not reachable.", "database_unavailable")
    return Health()
