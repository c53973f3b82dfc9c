"""Offset pagination: ``?limit=&offset=`` in, ``{items, total, limit, offset}`` out, with
RFC 8288 ``Link`` (``first``, ``prev``, ``next``, ``last``) and ``X-Total-Count`` headers."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar
from urllib.parse import quote, quote_plus, unquote_plus

import sqlalchemy as sa
from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")
P = TypeVar("P", bound="Page[Any]")
# What stays as it is in a query copied into a link: RFC 3986's query characters and "%".
_QUERY_SAFE = "!$'()*+,;=:@/?%"


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total number of matching items."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[Any], total: int, params: "PageParams") -> Self:
        """The page of ``items`` (ORM objects or rows, read by attribute)."""
        return cls.model_validate(
            {"items": items, "total": total, "limit": params.limit, "offset": params.offset},
            from_attributes=True,
        )


class CursorPage(Page[T], Generic[T]):
    """A page of a list that can also be walked by cursor."""

    next: str | None = Field(
        description="Pass as `after` for the next page (null on the last page); `offset` "
        "is then ignored."
    )


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


async def _page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(_page_params)]


def fetch_page(
    session: Session,
    statement: sa.Select[*tuple[Any, ...]],
    params: PageParams,
    *,
    rows: bool = False,
) -> tuple[Sequence[Any], int]:
    """Run ``statement`` for one page and count all its rows (scoping applies to both).

    Items are the first column of each row (an entity), or whole rows with ``rows=True``.
    """
    counted = statement.order_by(None).subquery()
    total = session.scalar(sa.select(sa.func.count()).select_from(counted))
    page = statement.limit(params.limit).offset(params.offset)
    items = session.execute(page).all() if rows else session.scalars(page).all()
    return items, total or 0


def page_links(
    base: str,
    query: str,
    *,
    total: int,
    limit: int,
    offset: int,
    cursor: str | None = None,
    walked: bool = False,
) -> str:
    """The ``Link`` header of a page of ``total`` items at ``base`` (the list's absolute URL,
    without a query), keeping the other parameters of the request's ``query`` as sent.

    ``first``, ``prev`` and ``last`` are offset links; ``next`` is ``after=cursor`` where the
    list gave one, else the next offset. A page reached by cursor (``walked``) has no known
    offset: it links ``first``, ``next`` and ``last`` only.
    """
    kept = "".join(
        # As sent, but what a URL in a header may not hold (``<>"``, spaces) escaped; the
        # query is latin-1-decoded bytes, so a byte stays that byte.
        f"{quote(part, safe=_QUERY_SAFE, encoding='latin-1')}&"
        for part in query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in ("offset", "after")
    )

    def link(rel: str, moved: str) -> str:
        return f'<{base}?{kept}{moved}>; rel="{rel}"'

    last = max(0, (total - 1) // limit * limit)
    if not walked and offset < total:
        last = offset + (total - 1 - offset) // limit * limit  # on this page's grid
    links = [link("first", "offset=0")]
    if not walked and offset > 0:
        links.append(link("prev", f"offset={max(0, min(offset - limit, last))}"))
    if cursor is not None:
        links.append(link("next", f"after={quote_plus(cursor)}"))
    elif not walked and offset + limit < total:
        links.append(link("next", f"offset={offset + limit}"))
    links.append(link("last", f"offset={last}"))
    return ", ".join(links)


@dataclass(frozen=True, slots=True)
class PageHeaders:
    """Puts a list's ``Link`` and ``X-Total-Count`` headers on its answer.

    Links are absolute, under ``BLOG_PUBLIC_URL`` (never the Host header: the response
    cache keeps one answer for every host).
    """

    request: Request
    response: Response

    def __call__(self, page: P) -> P:
        """``page``, its headers set on the route's response."""
        cursor = getattr(page, "next", None) if isinstance(page, CursorPage) else None
        self._set(
            self.response,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            cursor=cursor,
            walked=isinstance(page, CursorPage) and self._walked(),
        )
        return page

    def cursor_page(
        self, response: Response, *, total: int, limit: int, offset: int, next: str | None
    ) -> None:
        """Set the headers of a :class:`CursorPage` a route answers itself on ``response``."""
        self._set(
            response, total=total, limit=limit, offset=offset, cursor=next, walked=self._walked()
        )

    def _walked(self) -> bool:
        return bool(self.request.query_params.get("after"))

    def _set(
        self,
        response: Response,
        *,
        total: int,
        limit: int,
        offset: int,
        cursor: str | None,
        walked: bool,
    ) -> None:
        scope = self.request.scope
        path = scope["path"].removeprefix(scope.get("root_path", "").rstrip("/"))
        base = scope["app"].state.settings.public_url.rstrip("/") + quote(path)
        response.headers["Link"] = page_links(
            base,
            scope["query_string"].decode("latin-1"),
            total=total,
            limit=limit,
            offset=offset,
            cursor=cursor,
            walked=walked,
        )
        response.headers["X-Total-Count"] = str(total)


PageHeadersDep = Annotated[PageHeaders, Depends()]

# The headers of a list's answer, for its route's OpenAPI ``responses=``.
PAGE_HEADERS: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": "RFC 8288 links to the `first`, `prev`, `next` and `last` pages "
                '(absent where there is none), e.g. `<…/posts?limit=20&offset=20>; rel="next"`.',
                "schema": {"type": "string"},
            },
            "X-Total-Count": {
                "description": "The number of matching items: `total`.",
                "schema": {"type": "integer"},
            },
        }
    }
}
