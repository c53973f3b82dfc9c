"""A blog's feeds (RSS 2.0, Atom 1.0) and sitemaps, read as a feed reader and a crawler
read them: only what the public sees, never another blog's, split where the protocol
says, and revalidated by ETag and Last-Modified."""

from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlmodel import Session

from blog.database import utcnow
from blog.feeds import service as feeds_service
from blog.feeds import sitemaps
from blog.posts.models import Post, PostStatus
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import QueryCounter
from tests.factories import PostFactory, UserFactory
from tests.test_posts import create_post, created

Headers = dict[str, str]
FEEDS = {
    "rss.xml": ("rss20", "application/rss+xml"),
    "feed.atom": ("atom10", "application/atom+xml"),
}
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
DOCUMENTS = (
    "rss.xml",
    "feed.atom",
    "sitemap.xml",
    "sitemaps/posts.xml",
    "sitemaps/tags.xml",
    "sitemaps/authors.xml",
)


def blog_path(tenant: Tenant, document: str) -> str:
    return f"/blogs/{tenant.slug}/{document}"


def site(settings: Settings, tenant: Tenant) -> str:
    """The blog's frontend, as its links must start."""
    return (tenant.frontend_url or settings.frontend_url).replace("{tenant}", tenant.slug)


def read_feed(client: TestClient, tenant: Tenant, document: str) -> Any:
    """The parsed feed, checked to be well-formed and of its format."""
    response = client.get(blog_path(tenant, document))
    assert response.status_code == 200, response.text
    version, media_type = FEEDS[document]
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    return parsed


def urls(response: httpx.Response) -> list[str]:
    """The <loc> of every entry of a sitemap or sitemap index."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(response.content)
    assert root.tag in (f"{SITEMAP}urlset", f"{SITEMAP}sitemapindex")
    return [loc.text for loc in root.iter(f"{SITEMAP}loc")]


def local(url: str) -> str:
    """A child sitemap's URL, as this test client asks for it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def writer(db: Session, tenant: Tenant) -> User:
    made: User = UserFactory.create(tenant=tenant, role=Role.author, name="Ann Writer")
    return made


@pytest.fixture
def hidden(db: Session, tenant: Tenant, other_tenant: Tenant, writer: User) -> list[Post]:
    """What no feed of ``tenant`` may show: a draft, a post scheduled for tomorrow (each with
    a tag of its own), and a post of another blog."""
    return [
        PostFactory.create(
            author=writer, title="Draft title", status=PostStatus.draft, tags=["draft-only"]
        ),
        PostFactory.create(
            author=writer,
            title="Scheduled title",
            status=PostStatus.scheduled,
            tags=["scheduled-only"],
        ),
        PostFactory.create(
            author=UserFactory.create(tenant=other_tenant, username="elsewhere"),
            title="Other blog title",
            tags=["other-blog-tag"],
        ),
    ]


def publish(writer: User, count: int, **fields: Any) -> list[Post]:
    """``count`` published posts, oldest first."""
    start = utcnow() - timedelta(days=1)
    return [
        PostFactory.create(
            author=writer,
            title=f"Post number {index}",
            published_at=start + timedelta(minutes=index),
            tags=[f"topic-{index % 2}", "all"],
            **fields,
        )
        for index in range(count)
    ]


# --- feeds --------------------------------------------------------------------------------


@pytest.mark.parametrize("document", FEEDS)
def test_a_feed_holds_the_latest_public_posts_newest_first(
    client: TestClient,
    settings: Settings,
    tenant: Tenant,
    writer: User,
    hidden: list[Post],
    document: str,
) -> None:
    posts = publish(writer, 3)

    feed = read_feed(client, tenant, document)

    assert feed.feed.title == tenant.name
    assert feed.feed.link == site(settings, tenant)
    if document == "feed.atom":  # (RSS has no id of its own)
        assert feed.feed.id == f"urn:uuid:{tenant.id}"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == f"{settings.public_url}/blogs/{tenant.slug}/{document}"
    assert [entry.title for entry in feed.entries] == [post.title for post in posts[::-1]]
    for entry, index in zip(feed.entries, (2, 1, 0), strict=True):
        post = posts[index]
        assert entry.link == f"{site(settings, tenant)}/article/{post.slug}"
        assert entry.id == f"urn:uuid:{post.id}"
        assert entry.author == "Ann Writer"
        assert entry.summary == post.description
        assert [tag.term for tag in entry.tags] == [f"topic-{index % 2}", "all"]
        assert post.published_at is not None
        assert tuple(entry.published_parsed)[:6] == post.published_at.utctimetuple()[:6]


@pytest.mark.parametrize("document", FEEDS)
def test_a_feed_never_shows_drafts_scheduled_posts_or_another_blogs(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    writer: User,
    hidden: list[Post],
    document: str,
) -> None:
    publish(writer, 2)

    text = client.get(blog_path(tenant, document)).text
    other = client.get(blog_path(other_tenant, document)).text

    for post in hidden:
        shown_in_own_blog = post.tenant_id == other_tenant.id
        assert (post.title in other) is shown_in_own_blog
        assert post.title not in text
        assert str(post.id) not in text
        assert post.slug not in text
    for tag in ("draft-only", "scheduled-only", "other-blog-tag", "elsewhere"):
        assert tag not in text
    assert "Post number" not in other


@pytest.mark.parametrize("document", FEEDS)
def test_a_feed_holds_the_latest_twenty(
    client: TestClient, tenant: Tenant, writer: User, document: str
) -> None:
    posts = publish(writer, feeds_service.FEED_SIZE + 3)

    feed = read_feed(client, tenant, document)

    latest = posts[::-1][: feeds_service.FEED_SIZE]
    assert [entry.title for entry in feed.entries] == [post.title for post in latest]


def test_links_point_at_the_blogs_own_frontend_when_it_has_one(
    client: TestClient, db: Session, tenant: Tenant, writer: User
) -> None:
    tenant.frontend_url = "https://acme.example/journal"
    db.add(tenant)
    db.commit()
    (post,) = publish(writer, 1)

    feed = read_feed(client, tenant, "feed.atom")

    (entry,) = feed.entries
    assert entry.link == f"https://acme.example/journal/article/{post.slug}"
    assert entry.tags[0].scheme == "https://acme.example/journal/tag/topic-0"
    assert feed.feed.link == "https://acme.example/journal"


def test_an_authorless_post_and_odd_text_still_make_valid_feeds(
    client: TestClient, db: Session, tenant: Tenant, writer: User
) -> None:
    odd = PostFactory.create(
        author=writer, title="Ampersands & <angles> \x0b and a tab\t", tags=["c++ & c#"]
    )
    db.execute(
        Post.__table__.update().values(author_id=None).where(Post.__table__.c.id == odd.id)  # type: ignore[attr-defined]
    )
    db.commit()

    for document in FEEDS:
        (entry,) = read_feed(client, tenant, document).entries
        assert entry.title == "Ampersands & <angles>  and a tab"
        assert [tag.term for tag in entry.tags] == ["c++ & c#"]


def test_unknown_blog_is_404_for_every_document(client: TestClient) -> None:
    for document in DOCUMENTS:
        response = client.get(f"/blogs/no-such-blog/{document}")
        assert response.status_code == 404, document
        assert response.json()["code"] == "tenant_not_found"


# --- validators ---------------------------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS[:3])
def test_validators_answer_304_without_a_body(
    client: TestClient, tenant: Tenant, writer: User, document: str
) -> None:
    publish(writer, 2)
    first = client.get(blog_path(tenant, document))
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = client.get(blog_path(tenant, document), headers={"If-None-Match": etag})
    by_time = client.get(blog_path(tenant, document), headers={"If-Modified-Since": last_modified})
    among = client.get(blog_path(tenant, document), headers={"If-None-Match": f'"other", W/{etag}'})
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), True)
    older = client.get(blog_path(tenant, document), headers={"If-Modified-Since": earlier})
    # If-None-Match decides when sent: a stale ETag is a 200 whatever the date says.
    stale = client.get(
        blog_path(tenant, document),
        headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified},
    )

    assert first.status_code == 200
    for response in (by_etag, by_time, among):
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == last_modified
    assert older.status_code == stale.status_code == 200
    assert older.content == stale.content == first.content


def test_each_document_has_its_own_etag(client: TestClient, tenant: Tenant, writer: User) -> None:
    publish(writer, 1)

    etags = {client.get(blog_path(tenant, document)).headers["etag"] for document in DOCUMENTS}

    assert len(etags) == len(DOCUMENTS)


@pytest.mark.parametrize("document", FEEDS)
def test_a_post_published_through_the_api_shows_at_once_under_a_new_etag(
    client: TestClient,
    tenant: Tenant,
    writer: User,
    auth_headers: Callable[[User], Headers],
    document: str,
) -> None:
    publish(writer, 1)
    for _ in range(3):  # read enough for any cache on the way to keep it
        before = client.get(blog_path(tenant, document))
    etag = before.headers["etag"]

    post = created(
        create_post(client, tenant, auth_headers(writer), title="Fresh news", status="published")
    )
    after = client.get(blog_path(tenant, document))
    revalidated = client.get(blog_path(tenant, document), headers={"If-None-Match": etag})

    assert after.headers["etag"] != etag
    assert revalidated.status_code == 200
    parsed = feedparser.parse(after.content)
    assert parsed.entries[0].title == "Fresh news"
    assert parsed.entries[0].id == f"urn:uuid:{post['id']}"


def test_a_scheduled_post_joins_the_feed_when_its_job_publishes_it(
    client: TestClient,
    tenant: Tenant,
    writer: User,
    auth_headers: Callable[[User], Headers],
    run_jobs: Callable[..., int],
) -> None:
    at = utcnow() + timedelta(minutes=10)
    created(
        create_post(
            client,
            tenant,
            auth_headers(writer),
            title="Coming soon",
            status="scheduled",
            published_at=at.isoformat(),
        )
    )
    before = client.get(blog_path(tenant, "rss.xml"))
    assert "Coming soon" not in before.text

    assert run_jobs(now=at + timedelta(seconds=1)) == 1
    after = client.get(blog_path(tenant, "rss.xml"))

    assert after.headers["etag"] != before.headers["etag"]
    assert [entry.title for entry in feedparser.parse(after.content).entries] == ["Coming soon"]


# --- sitemaps -----------------------------------------------------------------------------


@pytest.fixture
def two_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "MAX_URLS_PER_SITEMAP", 2)


def read_all(client: TestClient, index: httpx.Response) -> dict[str, list[list[str]]]:
    """Each kind's child sitemaps, in the index's order: the URLs of each file."""
    found: dict[str, list[list[str]]] = {}
    for url in urls(index):
        kind = urlsplit(url).path.rsplit("/", 1)[-1].removesuffix(".xml")
        found.setdefault(kind, []).append(urls(client.get(local(url))))
    return found


def test_the_sitemap_index_lists_every_public_post_tag_and_author(
    client: TestClient,
    settings: Settings,
    tenant: Tenant,
    writer: User,
    hidden: list[Post],
) -> None:
    posts = publish(writer, 3)
    UserFactory.create(tenant=tenant, username="drafts-only")  # wrote nothing public

    index = client.get(blog_path(tenant, "sitemap.xml"))

    base = f"{settings.public_url}/blogs/{tenant.slug}/sitemaps"
    assert urls(index) == [f"{base}/{kind}.xml?page=1" for kind in ("posts", "tags", "authors")]
    front = site(settings, tenant)
    assert read_all(client, index) == {
        "posts": [[f"{front}/article/{post.slug}" for post in posts]],
        "tags": [[f"{front}/tag/all", f"{front}/tag/topic-0", f"{front}/tag/topic-1"]],
        "authors": [[f"{front}/profile/{writer.username}"]],
    }


def test_sitemaps_split_at_the_per_file_limit(
    client: TestClient, tenant: Tenant, writer: User, hidden: list[Post], two_per_file: None
) -> None:
    posts = publish(writer, 5)

    index = client.get(blog_path(tenant, "sitemap.xml"))
    files = read_all(client, index)

    assert [len(urls) for urls in files["posts"]] == [2, 2, 1]
    flat = [url.rsplit("/", 1)[-1] for file in files["posts"] for url in file]
    assert flat == [post.slug for post in posts]  # oldest first, none twice, none left out
    assert [len(urls) for urls in files["tags"]] == [2, 1]
    assert client.get(blog_path(tenant, "sitemaps/posts.xml?page=4")).status_code == 404


def test_sitemaps_split_at_the_byte_limit_too(
    client: TestClient,
    settings: Settings,
    tenant: Tenant,
    writer: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files stay within the byte limit: as many URLs as fit at their longest."""
    posts = publish(writer, 5)
    longest = (
        sitemaps.ENTRY_OVERHEAD
        + len(site(settings, tenant))
        + sitemaps.SOURCES[sitemaps.SitemapKind.posts].longest_path
    )
    monkeypatch.setattr(sitemaps, "MAX_SITEMAP_BYTES", sitemaps.FILE_OVERHEAD + 2 * longest)

    files = [client.get(local(url)) for url in urls(client.get(blog_path(tenant, "sitemap.xml")))]
    post_files = [file for file in files if "/article/" in file.text]

    assert [len(urls(file)) for file in post_files] == [2, 2, 1]
    assert all(len(file.content) <= sitemaps.MAX_SITEMAP_BYTES for file in files)
    flat = [url.rsplit("/", 1)[-1] for file in post_files for url in urls(file)]
    assert flat == [post.slug for post in posts]


def test_sitemap_pages_are_read_in_chunks(
    client: TestClient,
    tenant: Tenant,
    writer: User,
    monkeypatch: pytest.MonkeyPatch,
    queries: QueryCounter,
) -> None:
    """A file is read a chunk at a time by key, never all at once: the same URLs."""
    posts = publish(writer, 7)
    whole = urls(client.get(blog_path(tenant, "sitemaps/posts.xml")))
    monkeypatch.setattr(sitemaps, "READ_CHUNK", 2)

    with queries:
        chunked = urls(client.get(blog_path(tenant, "sitemaps/posts.xml")))

    assert chunked == whole
    assert [url.rsplit("/", 1)[-1] for url in whole] == [post.slug for post in posts]
    assert sum("posts" in statement for statement in queries.statements) == 4  # 2+2+2+1


def test_a_big_frontend_url_means_fewer_urls_per_file() -> None:
    short = feeds_service.SiteLinks(site="https://a.example", documents="")
    long = feeds_service.SiteLinks(site="https://a.example/" + "x" * 2000, documents="")

    assert sitemaps.urls_per_sitemap(sitemaps.SitemapKind.authors, short) == 50_000
    fewer = sitemaps.urls_per_sitemap(sitemaps.SitemapKind.posts, long)
    longest = sitemaps.ENTRY_OVERHEAD + len(long.site) + len("/article/") + 12 * 100
    assert fewer < 50_000
    assert fewer * longest + sitemaps.FILE_OVERHEAD <= sitemaps.MAX_SITEMAP_BYTES


@pytest.mark.parametrize("kind", ["posts", "tags", "authors"])
def test_sitemap_pages_out_of_range(client: TestClient, tenant: Tenant, kind: str) -> None:
    empty = client.get(blog_path(tenant, f"sitemaps/{kind}.xml"))  # nothing public yet
    zero = client.get(blog_path(tenant, f"sitemaps/{kind}.xml?page=0"))
    word = client.get(blog_path(tenant, f"sitemaps/{kind}.xml?page=two"))

    assert empty.status_code == 404
    assert empty.json()["code"] == "sitemap_not_found"
    assert zero.status_code == word.status_code == 422


def test_a_blog_with_nothing_public_has_an_empty_index(
    client: TestClient, tenant: Tenant, hidden: list[Post]
) -> None:
    assert urls(client.get(blog_path(tenant, "sitemap.xml"))) == []


def test_another_blogs_sitemaps_never_name_this_blogs_posts(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, writer: User, hidden: list[Post]
) -> None:
    posts = publish(writer, 2)

    index = client.get(blog_path(other_tenant, "sitemap.xml"))
    files = read_all(client, index)
    text = " ".join(url for kind in files.values() for file in kind for url in file)

    assert text  # the other blog's own post is there
    for post in posts:
        assert post.slug not in text
    assert writer.username not in text
    assert "topic-0" not in text


# --- efficiency ---------------------------------------------------------------------------


@pytest.mark.parametrize("document", FEEDS)
def test_a_feed_issues_the_same_queries_for_1_and_20_posts_by_20_authors(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    other_tenant: Tenant,
    writer: User,
    queries: QueryCounter,
    document: str,
) -> None:
    publish(writer, 1)
    with queries:
        assert client.get(blog_path(tenant, document)).status_code == 200
    few = queries.count
    for index in range(20):
        publish(UserFactory.create(tenant=tenant, username=f"writer{index}"), 1)

    with queries:
        assert client.get(blog_path(tenant, document)).status_code == 200

    assert queries.count == few
