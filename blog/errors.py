"""One error hierarchy and one shape for every 4xx and 5xx answer: RFC 9457 problem details.

Every native error is ``application/problem+json``: the standard ``type``, ``title``,
``status`` and ``detail``, with our ``code``, ``errors`` and ``request_id`` as extension
members. A problem's ``type`` is ``/problems/{code}``: one type per code, so a client tells
problems apart by either (a code always comes with the same status); the path serves the
type's page (:mod:`blog.problem_types`). ``title`` is the status's phrase.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from blog.observability.context import request_id

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One invalid input field."""

    loc: list[str | int] = Field(description="Where the field is, e.g. ['body', 'email'].")
    msg: str
    type: str


PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "/problems/"
# RFC 9110's phrases where Python's (before 3.13) are RFC 7231's.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


class ErrorResponse(BaseModel):
    """The body of every error response: RFC 9457 problem details."""

    type: str = Field(
        description="The problem type, a URI reference: `/problems/{code}` (relative to this "
        "API's address), or `about:blank` when the status says it all."
    )
    title: str = Field(description="A short summary of the problem type: the status's phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="A human-readable explanation.")
    code: str = Field(description="A stable machine-readable error code.")
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field problems (validation errors only)."
    )
    request_id: str | None = Field(
        default=None,
        description="The request's id, as in its `X-Request-ID` header: quote it when "
        "reporting a problem, it finds the request's log lines.",
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


# The code of an HTTP error that has none of its own: its type is ``about:blank``.
HTTP_ERROR = "http_error"
# The problems no BlogError class stands for: their status and what they mean.
UNCLASSED_PROBLEMS: dict[str, tuple[int, str]] = {
    "validation_error": (
        422,
        "The request's parameters or body are not valid: `errors` lists each field's "
        "problem, `detail` the first.",
    ),
    "method_not_allowed": (
        405,
        "The path does not take this method: the `Allow` header lists those it does.",
    ),
    "database_unavailable": (
        503,
        "The database is unavailable; try again shortly (`Retry-After`, where given).",
    ),
    "internal_error": (
        500,
        "An unexpected server error. Its details are logged, never returned.",
    ),
}


def problem_type(code: str) -> str:
    """The ``type`` of the problems with this code."""
    return "about:blank" if code == HTTP_ERROR else f"{PROBLEM_TYPE_PREFIX}{code}"


@cache
def problem_title(status_code: int) -> str:
    """The ``title`` of a problem with this status."""
    if status_code in _TITLES:
        return _TITLES[status_code]
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def _body(
    status_code: int, detail: str, code: str, errors: list[FieldError] | None = None
) -> dict[str, Any]:
    """An :class:`ErrorResponse`, built as a dict (each error answer saves validating it)."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": problem_title(status_code),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = [error.model_dump() for error in errors]
    if (served := request_id()) is not None:
        body["request_id"] = served
    return body


def error_response(
    status_code: int,
    detail: str,
    code: str,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """An ``application/problem+json`` response in the one error shape."""
    return ProblemResponse(
        _body(status_code, detail, code, errors), status_code=status_code, headers=headers
    )


_HTTP_CODES = {
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """An error on its way out, before a dialect gives it a shape.

    ``field_errors`` are pydantic's error dicts without the rejected input (which may be
    a password): ``loc``, ``msg``, ``type``, ``ctx`` where pydantic gives it, and
    ``blank``: whether the input was missing, null or only white space.
    """

    status_code: int
    detail: str
    code: str
    field_errors: tuple[Mapping[str, Any], ...] = ()
    headers: Mapping[str, str] | None = None


Render = Callable[[Problem], Response]


def render_problem(problem: Problem) -> Response:
    """The native API's shape: ``{type, title, status, detail, code, errors?}``."""
    errors = [
        FieldError(loc=list(error["loc"]), msg=error["msg"], type=error["type"])
        for error in problem.field_errors
    ]
    return error_response(
        problem.status_code,
        problem.detail,
        problem.code,
        errors=errors or None,
        headers=problem.headers,
    )


def _blog_error(exc: Exception, _request: Request) -> Problem:
    assert isinstance(exc, BlogError)  # noqa: S101 - registered for BlogError only
    return Problem(exc.status_code, exc.message, exc.code, headers=exc.response_headers())


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
    Paths are matched below the app's mount point (``root_path``).
    """
    path = request.url.path.removeprefix(request.scope.get("root_path", "").rstrip("/"))
    matching = [
        (template.count("{"), operations)
        for template, operations in request.app.openapi()["paths"].items()
        if _path_matches(template, path)
    ]
    if not matching:
        return None
    operations = min(matching, key=lambda match: match[0])[1]
    return ", ".join(method.upper() for method in operations)


def _http_error(exc: Exception, request: Request) -> Problem:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = _HTTP_CODES.get(exc.status_code, HTTP_ERROR)
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED and (
        allowed := _allowed_methods(request)
    ):
        headers = {**(headers or {}), "Allow": allowed}
    return Problem(exc.status_code, str(exc.detail), code, headers=headers)


def _validation_error(exc: Exception, _request: Request) -> Problem:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    # Never echo the rejected input: it may be a password. Whether it was blank is kept.
    # A part of the request that two dependencies read (a login's credentials: its rate
    # limit and its route) is validated, and refused, once for each: say it once.
    unique = {(tuple(error["loc"]), error["type"], error["msg"]): error for error in exc.errors()}
    errors = tuple(
        {
            **{key: error[key] for key in ("loc", "msg", "type", "ctx") if key in error},
            "blank": error.get("input") is None
            or (isinstance(error.get("input"), str) and not error["input"].strip()),
        }
        for error in unique.values()
    )
    first = errors[0] if errors else None
    detail = (
        f"Invalid {'.'.join(str(part) for part in first['loc'][1:]) or 'request'}: {first['msg']}"
        if first
        else "Invalid request."
    )
    return Problem(
        status.HTTP_422_UNPROCESSABLE_CONTENT, detail, "validation_error", field_errors=errors
    )


def _integrity_error(exc: Exception, _request: Request) -> Problem:
    # A race lost against a concurrent write (e.g. two sign-ups with one email).
    logger.info("integrity error answered as 409: %s", type(exc).__name__)
    return Problem(status.HTTP_409_CONFLICT, Conflict.detail, Conflict.code)


def _database_unavailable(exc: Exception, _request: Request) -> Problem:
    logger.error("database unavailable: %s", type(exc).__name__)
    return Problem(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "The database is unavailable; try again shortly.",
        "database_unavailable",
        headers={"Retry-After": "5"},
    )


def _unexpected_error(exc: Exception, _request: Request) -> Problem:
    logger.exception("unhandled error", exc_info=exc)
    return Problem(
        status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error.", "internal_error"
    )


_PROBLEMS: tuple[tuple[type[Exception], Callable[[Exception, Request], Problem]], ...] = (
    (BlogError, _blog_error),
    (StarletteHTTPException, _http_error),
    (RequestValidationError, _validation_error),
    (IntegrityError, _integrity_error),
    (OperationalError, _database_unavailable),
    (Exception, _unexpected_error),
)


def install_error_handlers(app: FastAPI, render: Render = render_problem) -> None:
    """Render every error, expected or not, in one shape (never a stack trace).

    ``render`` is the API's dialect: the native shape by default; the RealWorld adapter
    passes its own ``{"errors": {...}}``.
    """
    for exception, to_problem in _PROBLEMS:

        async def handler(
            request: Request, exc: Exception, to_problem: Callable[..., Problem] = to_problem
        ) -> Response:
            return render(to_problem(exc, request))

        app.add_exception_handler(exception, handler)


def responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the error shape for these codes (as
    ``application/problem+json`` once :func:`document_problems` is installed)."""
    descriptions = {
        400: "Malformed request body (e.g. not UTF-8).",
        401: "Missing, invalid or expired credentials.",
        403: "Authenticated but not allowed.",
        404: "No such resource in this tenant.",
        409: "Conflicts with existing data.",
        413: "The request body is too large.",
        415: "The body's media type is not accepted.",
        422: "Invalid input.",
        429: "Too many attempts; see the Retry-After header.",
        500: "Unexpected server error (details are logged, never returned).",
        503: "The database or the media storage is unavailable.",
    }
    return {
        code: {"model": ErrorResponse, "description": descriptions.get(code, "Error.")}
        for code in status_codes
    }


def document_problems(app: FastAPI) -> None:
    """Document every error answer of ``app``'s OpenAPI as ``application/problem+json``.

    FastAPI files a ``responses=`` model under the route's own media type (JSON); the
    document is generated once, then its 4xx and 5xx entries are moved to the media type
    served.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status_code, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if status_code[0] in "45" and content:
                        response["content"] = {PROBLEM_JSON: next(iter(content.values()))}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
