"""A blog's feeds: its latest public posts as RSS 2.0 and Atom 1.0, and the links and
validators every public document of the blog (feeds, sitemaps) is served with.

The posts come from the one listing of posts (:mod:`blog.posts.listing`: the public list,
its authors and tags in two statements), so a feed shows exactly what the public list
does: published posts, never a draft nor a post scheduled for later. Documents are built
with feedgen, never from string templates.

Links are absolute: a blog's pages are on its frontend (the blog's own ``frontend_url``,
else ``BLOG_FRONTEND_URL``, as in mail), its documents on this API (``BLOG_PUBLIC_URL``).
The Host header is never used to build them.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from sqlmodel import Session, col, select

from blog.cache.versions import TenantVersion
from blog.mail import frontend_base
from blog.pagination import PageParams
from blog.posts.listing import PostFilter, list_posts
from blog.posts.schemas import PostSummaryData
from blog.tenants.models import Tenant

FEED_SIZE = 20  # the latest public posts a feed holds
# Each feed's path under the blog's documents, by whether it is the RSS one.
FEED_DOCUMENTS = {True: "rss.xml", False: "feed.atom"}

# The frontend's pages, under the blog's frontend URL: the routes of the RealWorld
# frontends for articles and profiles, and a tag's list of posts.
POST_PATH = "/article/{slug}"
TAG_PATH = "/tag/{name}"
AUTHOR_PATH = "/profile/{username}"

# Characters XML 1.0 cannot carry at all (escaping does not help): dropped from text.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters an XML document cannot hold."""
    return _NOT_XML.sub("", text)


def _segment(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class SiteLinks:
    """Absolute links of one blog: its pages on the frontend, its documents on this API."""

    site: str  # the blog's frontend, without a trailing slash
    documents: str  # this API's /blogs/{slug}, without a trailing slash

    @classmethod
    def of(cls, tenant: Tenant, *, frontend_url: str, public_url: str) -> "SiteLinks":
        """``frontend_url``: the deployment's; the blog's own comes first."""
        site = frontend_base(tenant.frontend_url or frontend_url, tenant_slug=tenant.slug)
        return cls(site=site, documents=f"{public_url.rstrip('/')}/blogs/{_segment(tenant.slug)}")

    def post(self, slug: str) -> str:
        return self.site + POST_PATH.format(slug=_segment(slug))

    def tag(self, name: str) -> str:
        return self.site + TAG_PATH.format(name=_segment(name))

    def author(self, username: str) -> str:
        return self.site + AUTHOR_PATH.format(username=_segment(username))

    def document(self, path: str) -> str:
        return f"{self.documents}/{path}"


@dataclass(frozen=True, slots=True)
class Stamp:
    """A blog's content version, and when it last moved (None: not known)."""

    version: int
    changed_at: datetime | None


def content_stamp(session: Session, *, tenant_id: uuid.UUID) -> Stamp:
    """The blog's content version and its time: one read by key."""
    row = session.exec(
        select(TenantVersion.version, TenantVersion.changed_at).where(
            col(TenantVersion.tenant_id) == tenant_id
        )
    ).first()
    return Stamp(version=0, changed_at=None) if row is None else Stamp(*row)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a document is served under: equal validators, equal bytes."""

    etag: str
    last_modified: datetime | None


def validators(stamp: Stamp, *, links: SiteLinks, document: str) -> Validators:
    """The blog's content version, with which document it is (kind, page, split) and where
    it links: a change of any of them is a new ETag."""
    digest = hashlib.blake2b(
        f"{links.site}\n{links.documents}\n{document}".encode(), digest_size=8
    ).hexdigest()
    return Validators(etag=f'"{stamp.version}-{digest}"', last_modified=stamp.changed_at)


def latest_posts(session: Session, *, version: int | None = None) -> list[PostSummaryData]:
    """The blog's latest public posts, newest first, with their authors and tags."""
    listing = list_posts(
        session, filter=PostFilter(), viewer=None, page=PageParams(limit=FEED_SIZE), version=version
    )
    return listing.items


def _generator(
    tenant: Tenant,
    posts: list[PostSummaryData],
    *,
    links: SiteLinks,
    updated: datetime,
    rss: bool,
) -> FeedGenerator:
    feed = FeedGenerator()
    if rss:  # RSS names an author by address only: dc:creator names without one
        feed.load_extension("dc", atom=False, rss=True)
    name = xml_text(tenant.name)
    feed.id(f"urn:uuid:{tenant.id}")  # an Atom id is for ever; links may move
    feed.title(name)
    feed.link(href=links.document(FEED_DOCUMENTS[rss]), rel="self")
    feed.link(href=links.site, rel="alternate")  # last: RSS's <link> is feedgen's last
    feed.description(f"The latest posts of {name}")
    feed.author(name=name)  # Atom: for entries whose author's account is gone
    feed.updated(updated)
    feed.lastBuildDate(updated)
    for post in posts:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:uuid:{post['id']}")
        entry.guid(f"urn:uuid:{post['id']}", permalink=False)
        entry.title(xml_text(post["title"]))
        entry.link(href=links.post(post["slug"]))
        if post["description"]:
            entry.summary(xml_text(post["description"]))
        entry.published(post["published_at"] or post["created_at"])
        entry.updated(post["updated_at"])
        author = post["author"]
        if author is not None:
            shown = xml_text(author["name"] or author["username"])
            entry.author(name=shown, uri=links.author(author["username"]))
            if rss:
                entry.dc.dc_creator(shown)
        for tag in post["tags"]:
            entry.category(term=xml_text(tag), scheme=links.tag(tag), label=xml_text(tag))
    return feed


def _updated(tenant: Tenant, posts: list[PostSummaryData], stamp: Stamp) -> datetime:
    """The feed's own time: when the blog last changed, else its newest post's."""
    if stamp.changed_at is not None:
        return stamp.changed_at
    return max((post["updated_at"] for post in posts), default=tenant.created_at)


def rss_feed(session: Session, *, tenant: Tenant, links: SiteLinks, stamp: Stamp) -> bytes:
    """The latest public posts as an RSS 2.0 document."""
    posts = latest_posts(session, version=stamp.version)
    updated = _updated(tenant, posts, stamp)
    feed = _generator(tenant, posts, links=links, updated=updated, rss=True)
    rendered: bytes = feed.rss_str(pretty=False)
    return rendered


def atom_feed(session: Session, *, tenant: Tenant, links: SiteLinks, stamp: Stamp) -> bytes:
    """The latest public posts as an Atom 1.0 document."""
    posts = latest_posts(session, version=stamp.version)
    updated = _updated(tenant, posts, stamp)
    feed = _generator(tenant, posts, links=links, updated=updated, rss=False)
    rendered: bytes = feed.atom_str(pretty=False)
    return rendered
