"""A blog's sitemaps (sitemaps.org protocol 0.9): an index, and child sitemaps of its
public posts, tags and authors, split at the protocol's limits.

A child sitemap holds at most :data:`MAX_URLS_PER_SITEMAP` URLs and
:data:`MAX_SITEMAP_BYTES` bytes: each kind takes as many URLs per file as fit in the bytes
even if every URL were as long as it can be (a blog's frontend URL, a slug, tag or
username of its longest, every character percent-encoded), so a file is never cut short.
Only what the public sees is listed: public posts (the rule of
:func:`blog.posts.models.public_posts`), the tags of public posts, their authors; a tag
only drafts carry is never named.

Rows are read in chunks of :data:`READ_CHUNK` by their key (keyset), oldest first so that a
page keeps its URLs while new posts arrive at the end; only the first row of a page is
found by its position. The XML is written as the rows come (lxml's incremental writer).
"""

import io
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from lxml import etree
from sqlmodel import Session, col, select

from blog.feeds.exceptions import SitemapNotFound
from blog.feeds.service import AUTHOR_PATH, POST_PATH, TAG_PATH, SiteLinks, Stamp
from blog.posts.listing import tag_link
from blog.posts.models import SLUG_MAX_LENGTH, TAG_MAX_LENGTH, Post, PostTag, Tag, public_posts
from blog.users.models import USERNAME_MAX_LENGTH, User

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
# The protocol's limits for one file (a test lowers the first to see the split).
MAX_URLS_PER_SITEMAP = 50_000
MAX_SITEMAP_BYTES = 52_428_800
READ_CHUNK = 1000
# Bytes of a file besides its entries; of an entry besides its loc: <url>, <loc>, </loc>,
# <lastmod> with its date and time, </lastmod>, </url>.
FILE_OVERHEAD = 1024
ENTRY_OVERHEAD = 96
# A character percent-encoded at its longest: four bytes of UTF-8, each "%XX".
ENCODED_CHARACTER = 12


class SitemapKind(StrEnum):
    posts = "posts"
    tags = "tags"
    authors = "authors"


def _linked_post() -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Post.tenant_id) == col(PostTag.tenant_id), col(Post.id) == col(PostTag.post_id)
    )


def _tagged_in_public() -> sa.ColumnElement[bool]:
    """The tag (of the outer query) is on a public post."""
    posts = select(PostTag.post_id).join(Post, _linked_post()).where(tag_link(), public_posts())
    return posts.exists()


def _writes_in_public() -> sa.ColumnElement[bool]:
    return col(User.id).in_(select(Post.author_id).where(public_posts()))


@dataclass(frozen=True, slots=True)
class _Source:
    """Where one kind's URLs come from: its rows in key order, and how a row is linked."""

    entity: type[Any]
    columns: tuple[Any, ...]  # the key's columns first
    key_length: int
    criteria: Callable[[], sa.ColumnElement[bool]]
    longest_path: int  # bytes of the longest path under the blog's frontend
    loc: Callable[[SiteLinks, Any], str]
    lastmod: Callable[[Any], datetime | None]


SOURCES: dict[SitemapKind, _Source] = {
    SitemapKind.posts: _Source(
        entity=Post,
        columns=(col(Post.published_at), col(Post.id), col(Post.slug), col(Post.updated_at)),
        key_length=2,
        criteria=public_posts,
        longest_path=len(POST_PATH) + ENCODED_CHARACTER * SLUG_MAX_LENGTH,
        loc=lambda links, row: links.post(row.slug),
        lastmod=lambda row: row.updated_at,
    ),
    SitemapKind.tags: _Source(
        entity=Tag,
        columns=(col(Tag.name),),
        key_length=1,
        criteria=_tagged_in_public,
        longest_path=len(TAG_PATH) + ENCODED_CHARACTER * TAG_MAX_LENGTH,
        loc=lambda links, row: links.tag(row.name),
        lastmod=lambda _row: None,
    ),
    SitemapKind.authors: _Source(
        entity=User,
        columns=(col(User.username_key), col(User.username)),
        key_length=1,
        criteria=_writes_in_public,
        longest_path=len(AUTHOR_PATH) + ENCODED_CHARACTER * USERNAME_MAX_LENGTH,
        loc=lambda links, row: links.author(row.username),
        lastmod=lambda _row: None,
    ),
}


def urls_per_sitemap(kind: SitemapKind, links: SiteLinks) -> int:
    """How many URLs of ``kind`` one file takes: the protocol's count, or fewer when that
    many of the longest possible URLs would pass its size."""
    longest = ENTRY_OVERHEAD + len(escape(links.site)) + SOURCES[kind].longest_path
    return max(1, min(MAX_URLS_PER_SITEMAP, (MAX_SITEMAP_BYTES - FILE_OVERHEAD) // longest))


def _w3c(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _count(session: Session, source: _Source) -> int:
    return (
        session.scalar(select(sa.func.count()).select_from(source.entity).where(source.criteria()))
        or 0
    )


def sitemap_index(session: Session, *, links: SiteLinks, stamp: Stamp) -> bytes:
    """The index of the blog's child sitemaps: each kind's files, one statement per kind."""
    buffer = io.BytesIO()
    with etree.xmlfile(buffer, encoding="UTF-8") as xml:
        xml.write_declaration()
        with xml.element(f"{{{NAMESPACE}}}sitemapindex", nsmap={None: NAMESPACE}):
            for kind, source in SOURCES.items():
                files = math.ceil(_count(session, source) / urls_per_sitemap(kind, links))
                for page in range(1, files + 1):
                    with xml.element(f"{{{NAMESPACE}}}sitemap"):
                        _leaf(xml, "loc", links.document(sitemap_path(kind, page)))
                        if stamp.changed_at is not None:
                            _leaf(xml, "lastmod", _w3c(stamp.changed_at))
    return buffer.getvalue()


def sitemap_path(kind: SitemapKind, page: int) -> str:
    """A child sitemap's path under the blog's documents."""
    return f"sitemaps/{kind}.xml?page={page}"


def _leaf(xml: Any, name: str, text: str) -> None:
    with xml.element(f"{{{NAMESPACE}}}{name}"):
        xml.write(text)


def _after(source: _Source, key: tuple[Any, ...]) -> sa.ColumnElement[bool]:
    """Rows past ``key`` in key order, as a range of the index first."""
    first = source.columns[0]
    if source.key_length == 1:
        return first > key[0]  # type: ignore[no-any-return]
    second = source.columns[1]
    return sa.and_(first >= key[0], sa.or_(first > key[0], second > key[1]))


def _rows(session: Session, source: _Source, *, page: int, size: int) -> Iterator[Any]:
    """The page's rows in key order, read a chunk at a time."""
    ordered = (
        select(*source.columns)
        .where(source.criteria())
        .order_by(*source.columns[: source.key_length])
    )
    after: tuple[Any, ...] | None = None
    if page > 1:
        # The key of the last row of the page before: the one row found by its position.
        before = session.execute(ordered.offset((page - 1) * size - 1).limit(1)).first()
        if before is None:
            return
        after = tuple(before[: source.key_length])
    left = size
    while left > 0:
        chunk = ordered if after is None else ordered.where(_after(source, after))
        rows = session.execute(chunk.limit(min(READ_CHUNK, left))).all()
        yield from rows
        if len(rows) < min(READ_CHUNK, left):
            return
        left -= len(rows)
        after = tuple(rows[-1][: source.key_length])


def sitemap(session: Session, *, kind: SitemapKind, page: int, links: SiteLinks) -> bytes:
    """Page ``page`` (from 1) of the blog's sitemap of ``kind``; a page past the last (or a
    kind with nothing public) is :class:`SitemapNotFound`."""
    if page < 1:
        raise SitemapNotFound()
    source = SOURCES[kind]
    rows = _rows(session, source, page=page, size=urls_per_sitemap(kind, links))
    first = next(rows, None)
    if first is None:
        raise SitemapNotFound()
    buffer = io.BytesIO()
    with etree.xmlfile(buffer, encoding="UTF-8") as xml:
        xml.write_declaration()
        with xml.element(f"{{{NAMESPACE}}}urlset", nsmap={None: NAMESPACE}):
            for row in itertools.chain([first], rows):
                with xml.element(f"{{{NAMESPACE}}}url"):
                    _leaf(xml, "loc", source.loc(links, row))
                    lastmod = source.lastmod(row)
                    if lastmod is not None:
                        _leaf(xml, "lastmod", _w3c(lastmod))
    return buffer.getvalue()
