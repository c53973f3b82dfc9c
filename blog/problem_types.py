"""The pages a problem's ``type`` points at: ``/problems/{code}``, one per problem type.

RFC 9457 asks that a type URI that can be fetched give human-readable documentation, so
each type has a small HTML page: its code, status, title and meaning. The pages are made
from the error classes themselves, so a new error has its page without more code. They
are documentation, not API: not in the OpenAPI document.
"""

from collections.abc import Iterator
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from blog.errors import (
    PROBLEM_TYPE_PREFIX,
    UNCLASSED_PROBLEMS,
    BlogError,
    NotFound,
    problem_title,
)

# Tagged as every native route is (operation ids are made from tags), though not in the schema.
router = APIRouter(
    prefix=PROBLEM_TYPE_PREFIX.rstrip("/"), tags=["problems"], include_in_schema=False
)

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "public, max-age=3600",
}


class ProblemTypeNotFound(NotFound):
    code = "problem_type_not_found"
    detail = "No such problem type."


def error_classes(cls: type[BlogError] = BlogError) -> Iterator[type[BlogError]]:
    """Every subclass of ``cls``, a base before its subclasses."""
    for sub in cls.__subclasses__():
        yield sub
        yield from error_classes(sub)


def catalogue() -> dict[str, tuple[int, str]]:
    """Every problem code the API answers with: its status and meaning (a code's first
    class says it: a subclass that keeps the code only narrows the case)."""
    found = dict(UNCLASSED_PROBLEMS)
    for error in error_classes():
        found.setdefault(error.code, (error.status_code, error.detail))
    return dict(sorted(found.items()))


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )
    return HTMLResponse(html, headers=HEADERS)


@router.get("")
def index() -> HTMLResponse:
    items = "\n".join(
        f'<li><a href="{PROBLEM_TYPE_PREFIX}{escape(code)}"><code>{escape(code)}</code></a>: '
        f"{status} {escape(problem_title(status))}</li>"
        for code, (status, _meaning) in catalogue().items()
    )
    return _page(
        "Problem types",
        "<h1>Problem types</h1>\n<p>Every error answer is <code>application/problem+json"
        "</code> (RFC 9457); its <code>type</code> is one of these.</p>\n"
        f"<ul>\n{items}\n</ul>",
    )


@router.get("/{code}")
def problem_type(code: str) -> HTMLResponse:
    found = catalogue().get(code)
    if found is None:
        raise ProblemTypeNotFound()
    status, meaning = found
    title = problem_title(status)
    return _page(
        f"{code}: {status} {title}",
        f"<h1><code>{escape(code)}</code></h1>\n"
        f"<p>HTTP {status} {escape(title)}</p>\n<p>{escape(meaning)}</p>\n"
        f'<p><a href="{PROBLEM_TYPE_PREFIX.rstrip("/")}">All problem types</a></p>',
    )
