"""Column lists of table models, for the code that writes rows in bulk.

The seeder (:mod:`blog.seeding`) and a blog's import (:mod:`blog.tenants.transfer`) write
rows without ORM objects. Both take their columns from here, so a column added to a
model is written (or deliberately left out, by name) without a second list to update.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.schema import ColumnDefault
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """The table a table model maps."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def columns_of(model: type[SQLModel], *, leaving_out: Collection[str] = ()) -> tuple[str, ...]:
    """The columns of ``model``'s table in table order, but ``leaving_out``.

    Leaving out a column the table does not have is an error: a renamed column must not
    quietly start being written.
    """
    table = table_of(model)
    names = [column.name for column in table.columns]
    unknown = set(leaving_out) - set(names)
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    return tuple(name for name in names if name not in leaving_out)


def _constant_default(column: sa.Column[Any]) -> Any:
    """What ``column`` holds when a row does not give it; an error if that is not one
    constant (a generated id or time must be given by the writer)."""
    default = column.default
    if isinstance(default, ColumnDefault) and default.is_scalar:
        value = default.arg
        return value.value if isinstance(value, Enum) else value
    if default is None and column.nullable:
        return None
    raise ValueError(
        f"rows of {column.table.name} must give {column.name}: it has no constant default"
    )


@dataclass(frozen=True, slots=True)
class BulkInsert:
    """An executemany INSERT of one model's table from rows given as dicts by column.

    A row may leave out the columns with a constant default (the model's, or NULL); the
    statement still names every column of the table: the given ones in the table's order,
    then the defaulted ones. Build it from a first row with :meth:`of`; every later row
    must have the same keys. ``values(row)`` is the row's values in the statement's order
    (a C-level ``itemgetter`` when nothing is defaulted: the seeder calls it per row).
    """

    table: str
    columns: tuple[str, ...]
    values: Callable[[Mapping[str, Any]], tuple[Any, ...]]

    @classmethod
    def of(cls, model: type[SQLModel], row: Mapping[str, Any]) -> "BulkInsert":
        """The insert of rows shaped like ``row`` into ``model``'s table."""
        table = table_of(model)
        columns = columns_of(model)
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        given = tuple(name for name in columns if name in row)
        rest = tuple(name for name in columns if name not in row)
        defaults = tuple(_constant_default(table.c[name]) for name in rest)
        pick = itemgetter(*given)
        if len(given) == 1:
            return cls(table.name, given + rest, lambda row: (pick(row), *defaults))
        if defaults:
            return cls(table.name, given + rest, lambda row: pick(row) + defaults)
        return cls(table.name, given, pick)

    def statement(self, marker: str) -> str:
        """The driver's INSERT, with ``marker`` (``?`` or ``%s``) for each value."""
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) "  # noqa: S608 - model names
            f"VALUES ({', '.join([marker] * len(self.columns))})"
        )
