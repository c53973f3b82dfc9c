"""Posts, comments and tags, under a tenant's path."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from blog.auth.dependencies import (
    TOKEN_OPTIONAL,
    AuthorUser,
    CommenterUser,
    CommentModerator,
    CurrentUser,
    PostsReader,
    PostsWriter,
)
from blog.cache import found_version
from blog.database import SessionDep, in_thread
from blog.dependencies import SettingsDep
from blog.errors import responses
from blog.keys.dependencies import KeyCallerDep
from blog.pagination import (
    PAGE_HEADERS,
    PageDep,
    PageHeaders,
    PageHeadersDep,
    PageParams,
)
from blog.posts import listing as posts_listing
from blog.posts import service
from blog.posts.dependencies import EditablePost, PathComment, VisiblePost, ensure_may_list
from blog.posts.exceptions import RelevanceNeedsSearch
from blog.posts.listing import Listing as PostListing
from blog.posts.listing import PostFilter, PostOrder
from blog.posts.models import Post, PostStatus
from blog.posts.schemas import (
    CommentCreate,
    CommentPage,
    CommentRead,
    FeedPage,
    PostCreate,
    PostPage,
    PostRead,
    PostUpdate,
    TagCountPage,
    UserWithPosts,
)
from blog.schemas import NoNul
from blog.shared import Mark, MarkKind, shared_response
from blog.tenants.dependencies import TenantDep
from blog.users import service as users_service
from blog.users.models import User
from blog.users.schemas import UserPublic

router = APIRouter(tags=["posts"])


def _read(session: Session, post: Post, viewer: User | None) -> PostRead:
    """A whole post, with its favorite count and the caller's own mark."""
    count, mine = service.favorites_of(session, post=post, viewer=viewer)
    return PostRead.model_validate(post).model_copy(
        update={"favorites_count": count, "favorited": mine}
    )


SearchText = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Search title, tags, description and body, in the blog's language "
        '(`running` finds `run`): words (all must match), `"quoted phrases"`, `-excluded` '
        "words, `or` between alternatives. Ranked: title above tags above description above "
        "body.",
        examples=['"night train" -sleeper'],
    ),
    NoNul,
]


Cursor = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Continue after this cursor (the `next` of the previous page) instead of "
        "skipping `offset` items: stable while posts are added, and as fast at any depth.",
    ),
    NoNul,
]


def _summaries(
    request: Request,
    session: Session,
    listing: PostListing,
    *,
    viewer: User | None,
    page: PageParams,
    headers: PageHeaders,
    shareable: bool,
    snippets: bool = False,
) -> Response:
    """A page of posts for the caller, with its page headers: favorite marks put into a body
    every reader shares. ``snippets``: the items carry the search's (null without ``q``)."""
    ids = [item["id"] for item in listing.items]
    favorited = posts_listing.favorited_among(session, viewer=viewer, post_ids=ids)
    items: list[dict[str, Any]] = [
        {**item, "favorited": Mark(MarkKind.favorited, item["id"])} for item in listing.items
    ]
    if snippets:
        for item, post in zip(items, listing.items, strict=True):
            item["snippet"] = listing.snippets.get(post["id"])
    content = {
        "items": items,
        "total": listing.total,
        "limit": page.limit,
        "offset": page.offset,
        "next": listing.next,
    }
    marks = {Mark(MarkKind.favorited, post_id) for post_id in favorited}
    response = shared_response(request, content, marks=marks, shareable=shareable)
    headers.cursor_page(
        response, total=listing.total, limit=page.limit, offset=page.offset, next=listing.next
    )
    return response


@router.get(
    "/posts",
    response_model=PostPage,
    responses=responses(401, 422) | PAGE_HEADERS,
    openapi_extra=TOKEN_OPTIONAL,
    summary="List posts, newest first, or search them (best match first)",
)
def list_posts(
    request: Request,
    tenant: TenantDep,
    viewer: PostsReader,
    key: KeyCallerDep,
    session: SessionDep,
    page: PageDep,
    headers: PageHeadersDep,
    status: Annotated[
        PostStatus,
        Query(description="`draft` or `scheduled`: your own (editors: everyone's); needs a token."),
    ] = PostStatus.published,
    author: Annotated[str | None, Query(max_length=32, description="A username."), NoNul] = None,
    tag: Annotated[str | None, Query(max_length=50), NoNul] = None,
    q: SearchText = None,
    favorited: Annotated[
        str | None, Query(max_length=32, description="Favorited by this username."), NoNul
    ] = None,
    after: Cursor = None,
    order: Annotated[
        PostOrder | None,
        Query(
            description="`newest` (the default without `q`) or `relevance` (best match "
            "first: the default with `q`, which it needs). `after` needs `newest`."
        ),
    ] = None,
) -> Response:
    ensure_may_list(status, viewer=viewer, key=key)
    if order == PostOrder.relevance and not q:
        raise RelevanceNeedsSearch()
    posts_filter = PostFilter(
        status=status,
        author=author,
        tag=tag,
        q=q,
        language=tenant.search_language,
        favorited_by=favorited,
    )
    listing = posts_listing.list_posts(
        session,
        filter=posts_filter,
        viewer=viewer,
        page=page,
        after=after,
        version=found_version(request, tenant.id),
        order=order,
    )
    return _summaries(
        request,
        session,
        listing,
        viewer=viewer,
        page=page,
        headers=headers,
        shareable=posts_filter.public,
        snippets=True,
    )


@router.post(
    "/posts",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 409, 413),
    summary="Write a post (authors and above)",
)
async def create_post(
    data: PostCreate, author: AuthorUser, session: SessionDep, settings: SettingsDep
) -> PostRead:
    post = await in_thread(
        session,
        service.create_post,
        author=author,
        data=data,
        keep_revisions=settings.revisions_per_post,
    )
    return PostRead.model_validate(post)  # a new post: no favorites to read yet


@router.get(
    "/posts/by-slug/{slug}",
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="A post by its slug",
)
def read_post_by_slug(
    slug: Annotated[str, NoNul], viewer: PostsReader, session: SessionDep
) -> PostRead:
    return _read(session, service.get_post(session, viewer=viewer, slug=slug), viewer)


@router.get(
    "/posts/{post_id}", responses=responses(401), openapi_extra=TOKEN_OPTIONAL, summary="A post"
)
def read_post(post: VisiblePost, viewer: PostsReader, session: SessionDep) -> PostRead:
    return _read(session, post, viewer)


@router.patch(
    "/posts/{post_id}",
    responses=responses(400, 401, 403, 409, 413),
    summary="Change a post (its author, or editors)",
)
def update_post(
    post: EditablePost,
    editor: PostsWriter,
    data: PostUpdate,
    session: SessionDep,
    settings: SettingsDep,
) -> PostRead:
    updated = service.update_post(
        session, post=post, editor=editor, data=data, keep_revisions=settings.revisions_per_post
    )
    return _read(session, updated, editor)


@router.delete(
    "/posts/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403),
    summary="Delete a post with its comments (its author, or editors)",
)
def delete_post(post: EditablePost, session: SessionDep) -> None:
    service.delete_post(session, post=post)


@router.get(
    "/posts/{post_id}/comments",
    responses=responses(401) | PAGE_HEADERS,
    openapi_extra=TOKEN_OPTIONAL,
    summary="Comments, oldest first",
)
def list_comments(
    post: VisiblePost, session: SessionDep, page: PageDep, headers: PageHeadersDep
) -> CommentPage:
    comments, total = service.list_comments(session, post=post, params=page)
    return headers(CommentPage.of(comments, total, page))


@router.post(
    "/posts/{post_id}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 409, 413),
    summary="Comment on a published post (any member; verified, if the blog requires it)",
)
async def add_comment(
    author: CommenterUser, post: VisiblePost, data: CommentCreate, session: SessionDep
) -> CommentRead:
    comment = await in_thread(session, service.add_comment, post=post, author=author, data=data)
    return CommentRead.model_validate(comment)


@router.delete(
    "/posts/{post_id}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403),
    summary="Delete a comment (its author, the post's author, or editors)",
)
def delete_comment(
    actor: CommentModerator, post: VisiblePost, comment: PathComment, session: SessionDep
) -> None:
    service.delete_comment(session, post=post, comment=comment, actor=actor)


@router.get("/tags", responses=PAGE_HEADERS, summary="Tags of published posts, most used first")
def list_tags(session: SessionDep, page: PageDep, headers: PageHeadersDep) -> TagCountPage:
    rows, total = service.list_tags(session, params=page)
    return headers(TagCountPage.of(rows, total, page))


@router.get(
    "/users/{user_id}/with-posts",
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="A public profile with the user's posts",
)
def read_user_with_posts(
    user_id: uuid.UUID, viewer: PostsReader, session: SessionDep
) -> UserWithPosts:
    """Published posts only, unless the caller is that user or an editor (drafts too)."""
    user = users_service.get_user(session, user_id=user_id)
    # status=None: what the viewer may see, so drafts only for their author and editors.
    listing = posts_listing.list_posts(
        session, filter=PostFilter(status=None, author_id=user_id), viewer=viewer, page=None
    )
    posts = [{**item, "tag_names": item["tags"]} for item in listing.items]
    return UserWithPosts.model_validate(
        {**UserPublic.model_validate(user).model_dump(), "posts": posts}
    )


@router.get(
    "/feed",
    response_model=FeedPage,
    responses=responses(401) | PAGE_HEADERS,
    summary="Posts of the authors you follow",
)
def feed(
    request: Request,
    viewer: CurrentUser,
    session: SessionDep,
    page: PageDep,
    headers: PageHeadersDep,
    after: Cursor = None,
) -> Response:
    listing = posts_listing.list_posts(
        session, filter=PostFilter(followed_by=viewer.id), viewer=viewer, page=page, after=after
    )
    return _summaries(
        request, session, listing, viewer=viewer, page=page, headers=headers, shareable=False
    )


@router.post(
    "/posts/{post_id}/favorite", responses=responses(401), summary="Favorite a post (any member)"
)
def favorite_post(user: CurrentUser, post: VisiblePost, session: SessionDep) -> PostRead:
    service.favorite(session, post=post, user=user)
    return _read(session, post, user)


@router.delete("/posts/{post_id}/favorite", responses=responses(401), summary="Unfavorite a post")
def unfavorite_post(user: CurrentUser, post: VisiblePost, session: SessionDep) -> PostRead:
    service.unfavorite(session, post=post, user=user)
    return _read(session, post, user)
