"""Full-text search of a blog's posts: title, tags, description and body, ranked.

The index lives in the database and every write keeps it current (the migration
``search`` builds it):

* **PostgreSQL**: ``posts.search_vector``, a ``tsvector`` a trigger computes on every
  insert and on every change of the searched columns, in the blog's language
  (``tenants.search_language``), under a GIN index on ``(tenant_id, search_vector)``
  (so a search reads one blog's entries, not every blog's). Queries are
  ``websearch_to_tsquery`` in the same language, ranked by ``ts_rank`` of
  ``posts.search_summary``: the same vector without the body. Ranking reads the vector of
  every match, and a small one is read fast (the whole one is mostly compressed away
  from the row); a match in the body alone counts as found, and such matches go newest
  first.
* **SQLite**: ``posts_search``, an FTS5 table over ``posts`` (external content: it holds
  the index, not a second copy of the text), kept in sync by triggers on ``posts``.
  Queries are the same user syntax translated here (:func:`parse`), ranked by
  ``bm25``. SQLite has one stemmer, Porter's (English), for every blog.

Tags are searched through ``posts.search_tags`` (the names, which the service writes
with the links), so that one row holds everything the index reads. Where a term is
found weighs: title above tags above description above body.

The columns and tables the index is made of are not in the models: the ORM never loads
them, and the migrations' comparison leaves them out (``migrations/env.py``).
"""

import html
import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col

from blog.posts.models import Post


class SearchLanguage(StrEnum):
    """The stemming of a blog's search: PostgreSQL's built-in text search
    configurations. ``simple``: no stemming and no stop words."""

    arabic = "arabic"
    armenian = "armenian"
    basque = "basque"
    catalan = "catalan"
    danish = "danish"
    dutch = "dutch"
    english = "english"
    finnish = "finnish"
    french = "french"
    german = "german"
    greek = "greek"
    hindi = "hindi"
    hungarian = "hungarian"
    indonesian = "indonesian"
    irish = "irish"
    italian = "italian"
    lithuanian = "lithuanian"
    nepali = "nepali"
    norwegian = "norwegian"
    portuguese = "portuguese"
    romanian = "romanian"
    russian = "russian"
    serbian = "serbian"
    simple = "simple"
    spanish = "spanish"
    swedish = "swedish"
    tamil = "tamil"
    turkish = "turkish"
    yiddish = "yiddish"


DEFAULT_LANGUAGE = SearchLanguage.english

# Weights of a hit by where it is: title, tags, description, body. PostgreSQL's are
# ts_rank's defaults for the labels A, B, C, D the trigger gives these columns; SQLite's
# are the FTS5 table's configured rank, bm25(10.0, 5.0, 2.0, 1.0) (set by the migration).
SQLITE_BODY_COLUMN = 3

# Marks around the matched words in a snippet, from Unicode's private use area: the
# database puts them in, then the text is escaped and they become <mark> and </mark>.
OPEN, CLOSE = "\ue000", "\ue001"
SNIPPET_WORDS = 24


@dataclass(frozen=True, slots=True)
class Term:
    words: str  # one word, or a phrase's words
    excluded: bool


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a reader typed, as alternatives (``or``) of terms that must all match."""

    text: str
    alternatives: tuple[tuple[Term, ...], ...]

    @property
    def empty(self) -> bool:
        """Nothing to look for: no word that is not excluded (which matches nothing)."""
        return not self.alternatives

    def fts5(self) -> str:
        """The query in FTS5's syntax: every word a quoted string (so no user input is
        read as FTS5 syntax), phrases kept together."""

        def quoted(term: Term) -> str:
            return '"' + term.words.replace('"', '""') + '"'

        parts = []
        for terms in self.alternatives:
            wanted = " AND ".join(quoted(term) for term in terms if not term.excluded)
            unwanted = " OR ".join(quoted(term) for term in terms if term.excluded)
            parts.append(f"({wanted}) NOT ({unwanted})" if unwanted else f"({wanted})")
        return " OR ".join(parts)


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse(text: str) -> SearchQuery:
    """The search-box syntax of PostgreSQL's ``websearch_to_tsquery``: words (all must
    match), ``"quoted phrases"``, ``-excluded`` words or phrases, and ``or`` between
    alternatives. A word with no letter or digit is left out, as both databases'
    tokenizers do."""
    alternatives: list[tuple[Term, ...]] = []
    terms: list[Term] = []

    def close() -> None:
        if any(not term.excluded for term in terms):
            alternatives.append(tuple(terms))
        terms.clear()

    for match in _TOKEN.finditer(text):
        minus, phrase, word = match.groups()
        if word is not None and word.lower() == "or":
            close()
            continue
        if word is not None:
            minus = "-" if word.startswith("-") else ""
            phrase = word.lstrip("-")
        if any(char.isalnum() for char in phrase):
            terms.append(Term(words=phrase, excluded=bool(minus)))
    close()
    return SearchQuery(text=text, alternatives=tuple(alternatives))


# SQLite: the FTS5 table, joined to posts by rowid.
_fts = sa.table("posts_search", sa.column("rowid", sa.Integer))
_fts_name: sa.ColumnClause[Any] = sa.literal_column("posts_search")


def _post_rowid() -> sa.ColumnElement[int]:
    return sa.literal_column("posts.rowid", sa.Integer)


def _tsquery(*, once: bool = False) -> sa.ColumnElement[Any]:
    """The reader's query. The text-to-regconfig cast is not a constant to the planner, so
    ``websearch_to_tsquery`` runs again for every row an expression is computed for;
    ``once``: parsed once per statement instead (a subquery), for what is computed per
    match (the rank: twice the time of a 100k-post search otherwise). The condition the
    index answers keeps the plain call: the planner estimates it (a subquery it cannot)
    and the index evaluates it once."""
    parsed = sa.func.websearch_to_tsquery(
        sa.cast(sa.bindparam("language", type_=sa.String), postgresql.REGCONFIG),
        sa.bindparam("q", type_=sa.String),
    )
    return sa.select(parsed).scalar_subquery() if once else parsed


def _search_vector() -> sa.ColumnElement[Any]:
    return sa.literal_column("posts.search_vector", postgresql.TSVECTOR)


def restrict(statement: sa.Select[Any], dialect: str, *, few: bool = False) -> sa.Select[Any]:
    """``statement`` (over ``posts``) limited to the posts that match the bound ``q``
    (and ``language``), through the index.

    On SQLite the index is read first and each match's post looked up by rowid (the ``+``
    keeps the planner from doing it the other way round: probing the index once per post
    of the blog, a full-text query each time). ``few``: ``statement`` already picks a few
    posts (by id), so probing the index for each is the cheaper way.
    """
    if dialect == "sqlite":
        rowid = _fts.c.rowid if few else sa.literal_column("+posts_search.rowid", sa.Integer)
        return statement.join(_fts, rowid == _post_rowid()).where(
            _fts_name.op("MATCH")(sa.bindparam("q", type_=sa.String))
        )
    return statement.where(_search_vector().op("@@")(_tsquery()))


def rank(dialect: str) -> sa.ColumnElement[float]:
    """How well a post matches, higher is better (in a statement :func:`restrict`-ed)."""
    if dialect == "sqlite":
        return -_fts_rank()
    return sa.func.ts_rank(
        sa.literal_column("posts.search_summary", postgresql.TSVECTOR), _tsquery(once=True)
    )


def best_first(dialect: str, rank: sa.ColumnElement[float]) -> list[sa.ColumnElement[Any]]:
    """The ORDER BY of a :func:`restrict`-ed statement, best match first, given its
    selected :func:`rank`.

    SQLite: FTS5's own ``ORDER BY rank``, which it sorts itself as it reads the index (a
    LIMIT then stops early); ties stay in the index's order. PostgreSQL: ties newest
    first (ids are time-ordered)."""
    if dialect == "sqlite":
        return [_fts_rank()]
    return [rank.desc(), col(Post.id).desc()]


def _fts_rank() -> sa.ColumnElement[float]:
    return sa.literal_column("posts_search.rank", sa.Float)


def query_parameter(query: SearchQuery, dialect: str) -> str:
    """The ``q`` a statement binds: FTS5's syntax on SQLite, the reader's own text for
    PostgreSQL's ``websearch_to_tsquery``."""
    return query.fts5() if dialect == "sqlite" else query.text


_HEADLINE_OPTIONS = (
    f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords={SNIPPET_WORDS}, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def _snippets_statement(dialect: str) -> sa.Select[Any]:
    ids = col(Post.id).in_(sa.bindparam("ids", expanding=True))
    if dialect == "sqlite":
        snippet = sa.func.snippet(
            _fts_name,
            sa.literal(SQLITE_BODY_COLUMN),
            sa.literal(OPEN),
            sa.literal(CLOSE),
            sa.literal("…"),
            sa.literal(SNIPPET_WORDS),
        )
        return restrict(sa.select(col(Post.id), snippet), dialect, few=True).where(ids)
    headline = sa.func.ts_headline(
        sa.cast(sa.bindparam("language", type_=sa.String), postgresql.REGCONFIG),
        col(Post.body),
        _tsquery(),
        sa.literal(_HEADLINE_OPTIONS),
    )
    return sa.select(col(Post.id), headline).where(ids)


def snippets(
    session: Session, *, ids: Collection[uuid.UUID], params: dict[str, Any], dialect: str
) -> dict[uuid.UUID, str]:
    """Each post's body around its matched words, as HTML: escaped, the words marked."""
    if not ids:
        return {}
    rows = session.execute(_snippets_statement(dialect), {**params, "ids": list(ids)})
    return {post_id: highlighted(text or "") for post_id, text in rows}


def highlighted(text: str) -> str:
    """Text with the database's marks, as HTML: everything escaped, whitespace runs made
    one space, each marked run in ``<mark>``. A stray mark (one the post's own text
    held) is dropped, so the tags always pair up."""
    out: list[str] = []
    marking = False
    for piece in _pieces(text):
        if piece == OPEN:
            if not marking:
                out.append("<mark>")
                marking = True
        elif piece == CLOSE:
            if marking:
                out.append("</mark>")
                marking = False
        else:
            out.append(html.escape(piece, quote=False))
    if marking:
        out.append("</mark>")
    return " ".join("".join(out).split())


def _pieces(text: str) -> Iterable[str]:
    return (piece for piece in re.split(f"([{OPEN}{CLOSE}])", text) if piece)


# What the migrations make for the index, which the models leave out: the vector column
# and its index on PostgreSQL, the FTS5 table and its shadow tables on SQLite.
_INDEX_NAMES = frozenset({"search_vector", "search_summary", "ix_posts_search_vector"})


def include_object(
    _object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object`` for comparing the database with the models: the search
    index is left out (migrations make it; the models do not describe it)."""
    return not (
        reflected
        and compare_to is None
        and name is not None
        and (name in _INDEX_NAMES or (type_ == "table" and name.startswith("posts_search")))
    )


def reindex(session: Session) -> None:
    """Index the session's blog's posts again, in its language as it now is (PostgreSQL:
    the trigger recomputes a row's vector when a searched column is written; SQLite's
    index has one language for all)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.update(Post).values(search_tags=col(Post.search_tags)))
