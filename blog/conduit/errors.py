"""Errors in the RealWorld dialect: ``{"errors": {"<field or resource>": ["<message>"]}}``.

The domain raises its usual errors; this only renames them. A code without an entry
below is shown under its own code with its detail, so nothing is ever lost.
"""

from collections.abc import Mapping
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse, Response

from blog.conduit.schemas import GenericErrorModel
from blog.errors import Problem

BLANK = "can't be blank"

# Domain (and HTTP) error codes, as RealWorld clients expect to read them.
_NAMES: dict[str, tuple[str, str | None]] = {  # None: the error's own detail
    "password_rejected": ("password", None),
    "post_not_found": ("article", "not found"),
    "comment_not_found": ("comment", "not found"),
    "user_not_found": ("profile", "not found"),
    "tenant_not_found": ("tenant", "not found"),
    "not_found": ("path", "not found"),
    "not_post_editor": ("article", "forbidden"),
    "not_comment_moderator": ("comment", "forbidden"),
    "role_forbidden": ("article", "forbidden"),
    "registration_closed": ("user", "registration is closed"),
    "username_taken": ("username", "has already been taken"),
    "email_taken": ("email", "has already been taken"),
    "invalid_credentials": ("credentials", "invalid"),
    "account_locked": ("credentials", "locked: too many failed logins, retry later"),
    "email_not_verified": ("email", "is not verified"),
    "invalid_token": ("token", "is invalid"),
    "token_missing": ("token", "is missing"),
    "cannot_follow_self": ("profile", "cannot follow itself"),
    "post_not_published": ("article", "is not published"),
    "method_not_allowed": ("method", "not allowed"),
    "payload_too_large": ("body", "is too large"),
    "http_error": ("request", "is malformed"),
    "database_unavailable": ("database", "is unavailable"),
    "internal_error": ("server", "internal error"),
}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """The innermost field name in an error's location: ("body", "article", "tagList", 2)
    → tagList. Pydantic's names for union members ("literal['']") are not fields."""
    names = [part for part in loc if isinstance(part, str) and part.isidentifier()]
    return names[-1] if names else "body"


def _message(error: Mapping[str, Any]) -> str:
    return BLANK if error.get("blank") or error["type"] == "missing" else str(error["msg"])


def errors_of(problem: Problem) -> dict[str, list[str]]:
    """The ``errors`` object for ``problem``."""
    if problem.field_errors:
        fields: dict[str, list[str]] = {}
        for error in problem.field_errors:
            fields.setdefault(_field(error["loc"]), []).append(_message(error))
        return fields
    key, message = _NAMES.get(problem.code, (problem.code, None))
    return {key: [message or problem.detail]}


def render_conduit_problem(problem: Problem) -> Response:
    headers = dict(problem.headers or {})
    if problem.status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Token"
    return JSONResponse(
        {"errors": errors_of(problem)}, status_code=problem.status_code, headers=headers
    )


_DESCRIPTIONS = {
    400: 'A body that is not JSON in UTF-8, e.g. `{"errors": {"request": ["is malformed"]}}`.',
    401: (
        'Missing or invalid token, e.g. `{"errors": {"token": ["is missing"]}}`; a wrong '
        'login is `{"errors": {"credentials": ["invalid"]}}`.'
    ),
    403: 'Not yours, e.g. `{"errors": {"article": ["forbidden"]}}`.',
    404: 'No such resource in this blog, e.g. `{"errors": {"article": ["not found"]}}`.',
    409: 'Taken, e.g. `{"errors": {"username": ["has already been taken"]}}`.',
    422: 'Invalid input, e.g. `{"errors": {"title": ["can\'t be blank"]}}`.',
    413: "The request body is too large.",
    429: "Too many attempts; see the Retry-After header.",
    500: "Unexpected server error (details are logged, never returned).",
    503: "The database is unavailable; see the Retry-After header.",
}


def conduit_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for these error codes, in the RealWorld shape."""
    return {
        code: {"model": GenericErrorModel, "description": _DESCRIPTIONS.get(code, "Error.")}
        for code in status_codes
    }
