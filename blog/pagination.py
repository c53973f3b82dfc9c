"""Offset pagination: ``?limit=&offset=`` in, ``{items, total, limit, offset}`` out."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")


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
