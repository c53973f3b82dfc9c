"""One error hierarchy and one JSON shape for every 4xx and 5xx answer."""

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One invalid input field."""

    loc: list[str | int] = Field(description="Where the field is, e.g. ['body', 'email'].")
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="A human-readable explanation.")
    code: str = Field(description="A stable machine-readable error code.")
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field problems (validation errors only)."
    )


class BlogError(Exception):
    """Base of all domain errors. Subclasses must set ``status_code`` and ``code``."""

    status_code: ClassVar[int]
    code: ClassVar[str]
    detail: ClassVar[str] = "Request failed."
    headers: ClassVar[dict[str, str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and not (
            hasattr(cls, "status_code") and hasattr(cls, "code")
        ):
            raise TypeError(f"{cls.__name__} must define status_code and code")

    def __init__(self, detail: str | None = None) -> None:
        self.message = detail or self.detail
        super().__init__(self.message)

    def response_headers(self) -> dict[str, str] | None:
        return self.headers


class NotFound(BlogError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    detail = "Not found."


class Forbidden(BlogError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    detail = "You are not allowed to do this."


class Conflict(BlogError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    detail = "This conflicts with existing data."


class Unauthorized(BlogError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    detail = "Not authenticated."
    headers = {"WWW-Authenticate": "Bearer"}


class InvalidInput(BlogError):
    """Input that is well-formed but cannot be accepted (beyond schema validation)."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "invalid_input"
    detail = "Invalid input."


def _body(detail: str, code: str, errors: list[FieldError] | None = None) -> dict[str, Any]:
    return ErrorResponse(detail=detail, code=code, errors=errors).model_dump(exclude_none=True)


def error_response(
    status_code: int,
    detail: str,
    code: str,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the one error shape."""
    return JSONResponse(_body(detail, code, errors), status_code=status_code, headers=headers)


_HTTP_CODES = {
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


async def _blog_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BlogError)  # noqa: S101 - registered for BlogError only
    return error_response(exc.status_code, exc.message, exc.code, headers=exc.response_headers())


def _path_matches(template: str, path: str) -> bool:
    parts, segments = template.split("/"), path.split("/")
    return len(parts) == len(segments) and all(
        part == segment or part.startswith("{")
        for part, segment in zip(parts, segments, strict=True)
    )


def _allowed_methods(request: Request) -> str | None:
    """The methods of the documented path the request's path matches, for a 405's ``Allow``.

    Starlette names only the first matching route's (GET of GET and PATCH); RFC 9110 wants
    all of them. As in OpenAPI, a literal segment wins: ``/users/me`` over ``/users/{id}``.
    """
    matching = [
        (template.count("{"), operations)
        for template, operations in request.app.openapi()["paths"].items()
        if _path_matches(template, request.url.path)
    ]
    if not matching:
        return None
    operations = min(matching, key=lambda match: match[0])[1]
    return ", ".join(method.upper() for method in operations)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED and (
        allowed := _allowed_methods(request)
    ):
        headers = {**(headers or {}), "Allow": allowed}
    return error_response(exc.status_code, str(exc.detail), code, headers=headers)


def _field_error(error: dict[str, Any]) -> FieldError:
    # Never echo the rejected input: it may be a password.
    return FieldError(loc=list(error["loc"]), msg=error["msg"], type=error["type"])


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [_field_error(error) for error in exc.errors()]
    first = errors[0] if errors else None
    detail = (
        f"Invalid {'.'.join(str(part) for part in first.loc[1:]) or 'request'}: {first.msg}"
        if first
        else "Invalid request."
    )
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT, detail, "validation_error", errors=errors
    )


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # A race lost against a concurrent write (e.g. two sign-ups with one email).
    logger.info("integrity error answered as 409: %s", type(exc).__name__)
    return error_response(status.HTTP_409_CONFLICT, Conflict.detail, Conflict.code)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "The database is unavailable; try again shortly.",
        "database_unavailable",
        headers={"Retry-After": "5"},
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error.", "internal_error"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, expected or not, in the one JSON shape (never a stack trace)."""
    app.add_exception_handler(BlogError, _blog_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


def responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the error shape for these codes."""
    descriptions = {
        400: "Malformed request body (e.g. not UTF-8).",
        401: "Missing, invalid or expired credentials.",
        403: "Authenticated but not allowed.",
        404: "No such resource in this tenant.",
        409: "Conflicts with existing data.",
        413: "The request body is too large.",
        422: "Invalid input.",
        429: "Too many attempts; see the Retry-After header.",
        500: "Unexpected server error (details are logged, never returned).",
        503: "The database is unavailable.",
    }
    return {
        code: {"model": ErrorResponse, "description": descriptions.get(code, "Error.")}
        for code in status_codes
    }
