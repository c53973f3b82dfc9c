"""A blog's public documents: its feeds (RSS 2.0, Atom 1.0) and sitemaps, under
``/blogs/{tenant}``.

Every document is served with an ``ETag`` (the blog's content version, the document and
where it links) and a ``Last-Modified`` (when that version moved), read first: a client
that has the document gets a 304 for two small reads, before any post is read. The
version moves in the transaction of every content change (a post published by its job
too), so a document is never stale. These paths are not under the response cache.
"""

from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session

from blog.database import SessionDep
from blog.dependencies import SettingsDep
from blog.errors import responses
from blog.feeds import service, sitemaps
from blog.feeds.service import SiteLinks, Stamp
from blog.feeds.sitemaps import SitemapKind
from blog.keys.dependencies import get_key_caller
from blog.tenants.dependencies import TenantDep, get_tenant
from blog.tenants.models import Tenant

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
# Public, and checked with the server every time (a 304 costs two small reads).
CACHE_CONTROL = "public, no-cache"
MAX_SITEMAP_PAGE = 2**31 - 1

router = APIRouter(
    prefix="/blogs/{tenant}",
    tags=["feeds"],
    # A key is not needed here, but one that is not this blog's is a 401, as on every
    # route of a blog: a build with a wrong key fails loudly rather than reading anonymously.
    dependencies=[Depends(get_tenant), Depends(get_key_caller)],
    responses=responses(401, 404, 422),
)


async def _links(tenant: TenantDep, settings: SettingsDep) -> SiteLinks:
    """The blog's absolute links (no I/O: on the event loop)."""
    return SiteLinks.of(tenant, frontend_url=settings.frontend_url, public_url=settings.public_url)


LinksDep = Annotated[SiteLinks, Depends(_links)]


def _document(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type.partition(";")[0]: {}}, "description": "The document."},
        304: {"description": "Unchanged since the validators the client sent."},
    }


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def _not_modified(request: Request, validators: service.Validators) -> bool:
    """RFC 9110 section 13.2.2: ``If-None-Match`` when sent, else ``If-Modified-Since``."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or validators.etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None or validators.last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as the RFC says
    if since.tzinfo is None:
        return False
    return validators.last_modified.replace(microsecond=0) <= since


def _answer(
    request: Request,
    session: Session,
    tenant: Tenant,
    links: SiteLinks,
    *,
    document: str,
    media_type: str,
    build: Callable[[Stamp], bytes],
) -> Response:
    """The document, or a 304 when the client's copy is current."""
    stamp = service.content_stamp(session, tenant_id=tenant.id)
    validators = service.validators(stamp, links=links, document=document)
    headers = {"ETag": validators.etag, "Cache-Control": CACHE_CONTROL}
    if validators.last_modified is not None:
        headers["Last-Modified"] = _http_date(validators.last_modified)
    if _not_modified(request, validators):
        return Response(status_code=304, headers=headers)
    return Response(build(stamp), media_type=media_type, headers=headers)


@router.get(
    "/rss.xml",
    response_class=Response,
    responses=_document(RSS_TYPE),
    summary="The blog's latest posts, as RSS 2.0",
)
def rss_feed(request: Request, tenant: TenantDep, links: LinksDep, session: SessionDep) -> Response:
    return _answer(
        request,
        session,
        tenant,
        links,
        document=service.FEED_DOCUMENTS[True],
        media_type=RSS_TYPE,
        build=lambda stamp: service.rss_feed(session, tenant=tenant, links=links, stamp=stamp),
    )


@router.get(
    "/feed.atom",
    response_class=Response,
    responses=_document(ATOM_TYPE),
    summary="The blog's latest posts, as Atom 1.0",
)
def atom_feed(
    request: Request, tenant: TenantDep, links: LinksDep, session: SessionDep
) -> Response:
    return _answer(
        request,
        session,
        tenant,
        links,
        document=service.FEED_DOCUMENTS[False],
        media_type=ATOM_TYPE,
        build=lambda stamp: service.atom_feed(session, tenant=tenant, links=links, stamp=stamp),
    )


@router.get(
    "/sitemap.xml",
    response_class=Response,
    responses=_document(XML_TYPE),
    summary="The blog's sitemap index: its sitemaps of posts, tags and authors",
)
def sitemap_index(
    request: Request, tenant: TenantDep, links: LinksDep, session: SessionDep
) -> Response:
    return _answer(
        request,
        session,
        tenant,
        links,
        document=f"sitemap.xml/{sitemaps.MAX_URLS_PER_SITEMAP}",
        media_type=XML_TYPE,
        build=lambda stamp: sitemaps.sitemap_index(session, links=links, stamp=stamp),
    )


SitemapPage = Annotated[
    int, Query(ge=1, le=MAX_SITEMAP_PAGE, description="From 1, as the sitemap index lists them.")
]


def _add_sitemap_route(kind: SitemapKind) -> None:
    def read_sitemap(
        request: Request,
        tenant: TenantDep,
        links: LinksDep,
        session: SessionDep,
        page: SitemapPage = 1,
    ) -> Response:
        return _answer(
            request,
            session,
            tenant,
            links,
            document=f"{sitemaps.sitemap_path(kind, page)}/{sitemaps.MAX_URLS_PER_SITEMAP}",
            media_type=XML_TYPE,
            build=lambda _stamp: sitemaps.sitemap(session, kind=kind, page=page, links=links),
        )

    router.add_api_route(
        f"/sitemaps/{kind}.xml",
        read_sitemap,
        methods=["GET"],
        name=f"sitemap_of_{kind}",
        response_class=Response,
        responses=_document(XML_TYPE),
        summary=f"A page of the blog's sitemap of {kind} (a page past the last: 404)",
    )


for _kind in SitemapKind:
    _add_sitemap_route(_kind)
