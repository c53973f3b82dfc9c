"""The pure half of the search benchmark (bench/search.py): its queries, rows, verdicts
and the printed table.

No database and no clock here, so tests/test_bench.py can check every verdict. A row is
one query on one database: the substring scan search replaced (the anchor) beside the
search, best match first and newest first, timed in the same process on the same data.
"""

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from blog.seeding import WORDS

# Two words a reader of a blog would type, made of the seeder's words (blog/seeding.py),
# none of them a stop word of PostgreSQL's English configuration.
QUERIES = ("mountain river", "python garden", "winter morning")
TARGET = 10.0  # issue 14: a 2-word query >= 10x faster than the substring scan
# What EXPLAIN says when the search index answers (PostgreSQL; SQLite's FTS5 table).
INDEX_EVIDENCE = {
    "postgresql": "Bitmap Index Scan on ix_posts_search_vector",
    "sqlite": "VIRTUAL TABLE INDEX",
}


def unknown_words(queries: Iterable[str]) -> list[str]:
    """Words of ``queries`` the seeder never writes: such a query would find nothing."""
    known = set(WORDS)
    return [word for query in queries for word in query.split() if word not in known]


def median_ms(seconds: Sequence[float]) -> float:
    """The median of runs timed in seconds, in milliseconds."""
    return statistics.median(seconds) * 1000


def index_line(database: str, plan: Iterable[str]) -> str:
    """The lines of an EXPLAIN output that show the search index used, joined ("" if
    none): all of them, since how it is used matters too (on SQLite, ``0:M4`` is a scan
    of the index, ``0:=M4`` one probe of it per row of the table outside)."""
    evidence = INDEX_EVIDENCE[database]
    return " | ".join(line.strip() for line in plan if evidence in line)


@dataclass(frozen=True)
class SearchRow:
    """One query on one database: the anchor's and the search's medians, and the plan."""

    database: str  # sqlite | postgresql
    query: str
    matches: int  # posts the search finds: every word, anywhere, stemmed
    substring_matches: int  # posts the scan finds: the text as typed, side by side
    substring_ms: float
    relevance_ms: float  # best match first (the default with q)
    newest_ms: float  # order=newest
    plan: str  # index_line() of the search statement's EXPLAIN

    @property
    def relevance_ratio(self) -> float:
        return self.substring_ms / self.relevance_ms if self.relevance_ms else 0.0

    @property
    def newest_ratio(self) -> float:
        return self.substring_ms / self.newest_ms if self.newest_ms else 0.0

    def misses(self) -> list[str]:
        """What keeps the row from passing: each order below the target, no index."""
        missed = [
            f"{order} {ratio:.1f}x < {TARGET:g}x"
            for order, ratio in (("relevance", self.relevance_ratio), ("newest", self.newest_ratio))
            if ratio < TARGET
        ]
        if not self.plan:
            missed.append(f"no {INDEX_EVIDENCE[self.database]!r} in EXPLAIN")
        return missed

    @property
    def verdict(self) -> str:
        return "MISS" if self.misses() else "PASS"


COLUMNS = (
    ("database", 10),
    ("query", 16),
    ("matches", 8),
    ("substring ms", 12),
    ("search ms (relevance)", 21),
    ("search ms (newest)", 18),
    ("ratio rel/new", 13),
    (f"target >= {TARGET:g}x", 14),
)


def _cells(row: SearchRow) -> tuple[str, ...]:
    return (
        row.database,
        row.query,
        f"{row.matches:,}",
        f"{row.substring_ms:,.1f}",
        f"{row.relevance_ms:,.1f}",
        f"{row.newest_ms:,.1f}",
        f"{row.relevance_ratio:.1f}x/{row.newest_ratio:.1f}x",
        row.verdict,
    )


def format_table(rows: Sequence[SearchRow]) -> str:
    """The table, then per row what the scan matched, the plan line and any miss."""
    header = " ".join(
        f"{name:<{width}}" if number < 2 else f"{name:>{width}}"
        for number, (name, width) in enumerate(COLUMNS)
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            " ".join(
                f"{cell:<{width}}" if number < 2 else f"{cell:>{width}}"
                for number, (cell, (_, width)) in enumerate(zip(_cells(row), COLUMNS, strict=True))
            )
        )
    lines.append("")
    for row in rows:
        lines.append(
            f"{row.database} {row.query!r}: the substring scan matches "
            f"{row.substring_matches:,} (the words side by side)"
        )
        lines.append(f"  EXPLAIN: {row.plan or '!! the search index is not in the plan'}")
        if row.misses():
            lines.append(f"  !! MISS: {'; '.join(row.misses())}")
    return "\n".join(lines)
