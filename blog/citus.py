"""Citus readiness: whether every table can be distributed by ``tenant_id`` unchanged, and
the statements that would distribute them.

Citus (distributed PostgreSQL) spreads a distributed table's rows over worker nodes by one
column and enforces keys only within a node, so a primary key, a unique constraint or a
unique index must include that column, and a foreign key between two distributed tables
must join on it (and they must be colocated). Here every tenant-owned table (one with a
``tenant_id`` column) is distributed by ``tenant_id``, all in one colocation group: a blog's
rows of every table live on one node, and a request's queries go to that node alone.
A table without ``tenant_id`` is placed by hand in :data:`NOT_TENANT_OWNED`, so that a new
one is classified on purpose.

The same rules are checked on the models' metadata and on a migrated PostgreSQL database
(``tests/test_citus.py``); ``blog db citus-sql`` prints the statements.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

TENANT_COLUMN = "tenant_id"
# The table every other tenant-owned table is colocated with: a blog's members, and so
# everything they write.
COLOCATE_WITH = "users"


class Placement(StrEnum):
    """Where a table's rows live in a Citus cluster."""

    distributed = "distributed"  # sharded by tenant_id, colocated with every tenant-owned table
    reference = "reference"  # one copy on every node: joined with distributed tables
    coordinator = "coordinator"  # a plain table on the coordinator, joined with nothing


# Every table without tenant_id, placed on purpose (a new one is a problem until listed).
NOT_TENANT_OWNED: Mapping[str, Placement] = {
    # What tenant_id refers to: every distributed table's foreign key points here.
    "tenants": Placement.reference,
    # Platform counters keyed by a hash, written on every login, never joined.
    "rate_limit_hits": Placement.coordinator,
    # Alembic's revision: migrations run on the coordinator.
    "alembic_version": Placement.coordinator,
}


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]

    def joins_on_tenant(self) -> bool:
        return (TENANT_COLUMN, TENANT_COLUMN) in zip(
            self.columns, self.referred_columns, strict=True
        )


@dataclass(frozen=True, slots=True)
class UniqueKey:
    """A unique constraint or unique index (partial ones too); an expression's entry is its
    SQL text."""

    name: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableShape:
    """What Citus cares about in one table."""

    name: str
    columns: frozenset[str]
    primary_key: tuple[str, ...]
    unique_keys: tuple[UniqueKey, ...]
    foreign_keys: tuple[ForeignKey, ...]

    @property
    def tenant_owned(self) -> bool:
        return TENANT_COLUMN in self.columns


def placement(shape: TableShape) -> Placement | None:
    """Where ``shape`` goes; None for a table without tenant_id that nobody placed."""
    if shape.tenant_owned:
        return Placement.distributed
    return NOT_TENANT_OWNED.get(shape.name)


def shapes_from_metadata(metadata: sa.MetaData) -> list[TableShape]:
    """The tables the models define."""
    return [_shape_of_table(metadata.tables[name]) for name in sorted(metadata.tables)]


def _shape_of_table(table: sa.Table) -> TableShape:
    unique = [
        UniqueKey(_name(constraint.name), tuple(column.name for column in constraint.columns))
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    ]
    unique += [
        UniqueKey(
            _name(index.name),
            tuple(
                part.name if isinstance(part, sa.Column) else str(part)
                for part in index.expressions
            ),
        )
        for index in table.indexes
        if index.unique
    ]
    foreign_keys = [
        ForeignKey(
            _name(constraint.name),
            tuple(element.parent.name for element in constraint.elements),
            constraint.referred_table.name,
            tuple(element.column.name for element in constraint.elements),
        )
        for constraint in table.foreign_key_constraints
    ]
    return TableShape(
        name=table.name,
        columns=frozenset(column.name for column in table.columns),
        primary_key=tuple(column.name for column in table.primary_key.columns),
        unique_keys=tuple(unique),
        foreign_keys=tuple(foreign_keys),
    )


def _name(name: object) -> str | None:
    return str(name) if isinstance(name, str) else None


def shapes_from_database(connection: sa.Connection) -> list[TableShape]:
    """The tables of a migrated PostgreSQL database, as its catalog has them: what
    migrations made, including what no model describes (unique indexes made in raw SQL,
    partial or on expressions; SQLite's reflection skips the latter)."""
    inspector = sa.inspect(connection)
    shapes = []
    for name in sorted(inspector.get_table_names()):
        unique = [
            UniqueKey(constraint["name"], tuple(constraint["column_names"]))
            for constraint in inspector.get_unique_constraints(name)
        ]
        expressions: Iterable[str | None]
        for index in inspector.get_indexes(name):
            if not index["unique"] or "duplicates_constraint" in index:
                continue
            expressions = index.get("expressions") or index["column_names"]
            unique.append(UniqueKey(index["name"], tuple(str(part) for part in expressions)))
        shapes.append(
            TableShape(
                name=name,
                columns=frozenset(column["name"] for column in inspector.get_columns(name)),
                primary_key=tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
                unique_keys=tuple(unique),
                foreign_keys=tuple(
                    ForeignKey(
                        key["name"],
                        tuple(key["constrained_columns"]),
                        key["referred_table"],
                        tuple(key["referred_columns"]),
                    )
                    for key in inspector.get_foreign_keys(name)
                ),
            )
        )
    return shapes


def problems(shapes: Iterable[TableShape]) -> list[str]:
    """What stops these tables from being distributed by tenant_id as they are (none: ready)."""
    shapes = list(shapes)
    placements = {shape.name: placement(shape) for shape in shapes}
    found = []
    for shape in shapes:
        where = placements[shape.name]
        if where is None:
            found.append(
                f"{shape.name}: no {TENANT_COLUMN} and not placed; add it to "
                "blog.citus.NOT_TENANT_OWNED (reference or coordinator), or give it a tenant"
            )
            continue
        if shape.tenant_owned and shape.name in NOT_TENANT_OWNED:
            found.append(
                f"{shape.name}: has {TENANT_COLUMN}, so it is distributed; "
                "remove it from blog.citus.NOT_TENANT_OWNED"
            )
        if where is Placement.distributed:
            found += _distributed_problems(shape, placements)
            continue
        for key in shape.foreign_keys:
            target = placements.get(key.referred_table)
            if target is Placement.distributed or (
                where is Placement.reference and target is not Placement.reference
            ):
                found.append(
                    f"{shape.name}: a {where} table's foreign key {_fk(key)} refers to a "
                    f"{target} table; Citus allows it only to reference tables"
                )
    anchor = next((shape for shape in shapes if shape.name == COLOCATE_WITH), None)
    if anchor and any(
        placements.get(key.referred_table) is Placement.distributed
        and key.referred_table != anchor.name
        for key in anchor.foreign_keys
    ):
        found.append(
            f"{anchor.name}: refers to other tenant-owned tables, so it cannot be distributed "
            "first; colocate with another table (blog.citus.COLOCATE_WITH)"
        )
    return found


def _distributed_problems(
    shape: TableShape, placements: Mapping[str, Placement | None]
) -> list[str]:
    found = []
    if TENANT_COLUMN not in shape.primary_key:
        found.append(
            f"{shape.name}: primary key ({', '.join(shape.primary_key)}) lacks {TENANT_COLUMN}"
        )
    for unique in shape.unique_keys:
        if TENANT_COLUMN not in unique.columns:
            found.append(
                f"{shape.name}: unique key {unique.name} ({', '.join(unique.columns)}) "
                f"lacks {TENANT_COLUMN}"
            )
    for key in shape.foreign_keys:
        target = placements.get(key.referred_table)
        if target is Placement.distributed and not key.joins_on_tenant():
            found.append(
                f"{shape.name}: foreign key {_fk(key)} does not map {TENANT_COLUMN} "
                f"to {key.referred_table}.{TENANT_COLUMN}"
            )
        elif target is not Placement.distributed and target is not Placement.reference:
            found.append(
                f"{shape.name}: foreign key {_fk(key)} refers to a {target} table; a "
                "distributed table may refer only to distributed and reference tables"
            )
    return found


def _fk(key: ForeignKey) -> str:
    return f"({', '.join(key.columns)}) -> {key.referred_table} ({', '.join(key.referred_columns)})"


def distribution_statements(shapes: Iterable[TableShape]) -> list[str]:
    """The Citus calls, in an order Citus accepts: reference tables first, then every
    tenant-owned table, each after the tables it refers to, all colocated with
    :data:`COLOCATE_WITH` (distributed first: it refers to no other tenant-owned table).

    Tables on the coordinator need no call. Raises ValueError for a schema with problems.
    """
    shapes = list(shapes)
    if found := problems(shapes):
        raise ValueError("; ".join(found))
    ordered = _referred_first(shapes)
    statements = [
        f"SELECT create_reference_table('{shape.name}');"
        for shape in ordered
        if placement(shape) is Placement.reference
    ]
    distributed = [shape.name for shape in ordered if placement(shape) is Placement.distributed]
    distributed.sort(key=lambda name: name != COLOCATE_WITH)  # stable: the order holds
    for name in distributed:
        colocation = "" if name == distributed[0] else f", colocate_with => '{distributed[0]}'"
        statements.append(
            f"SELECT create_distributed_table('{name}', '{TENANT_COLUMN}'{colocation});"
        )
    return statements


def _referred_first(shapes: list[TableShape]) -> list[TableShape]:
    """``shapes`` with every table after the tables it refers to; ties by name."""
    by_name = {shape.name: shape for shape in shapes}
    waiting_on: dict[str, set[str]] = {
        shape.name: {
            key.referred_table
            for key in shape.foreign_keys
            if key.referred_table in by_name and key.referred_table != shape.name
        }
        for shape in shapes
    }
    referrers: defaultdict[str, set[str]] = defaultdict(set)
    for name, referred in waiting_on.items():
        for target in referred:
            referrers[target].add(name)
    ordered: list[TableShape] = []
    ready = sorted(name for name, referred in waiting_on.items() if not referred)
    while ready:
        name = ready.pop(0)
        ordered.append(by_name[name])
        for referrer in referrers[name]:
            waiting_on[referrer].discard(name)
            if not waiting_on[referrer]:
                ready.append(referrer)
        ready.sort()
    if len(ordered) != len(shapes):
        cycle = sorted(set(by_name) - {shape.name for shape in ordered})
        raise ValueError(f"foreign keys refer in a cycle among: {', '.join(cycle)}")
    return ordered
