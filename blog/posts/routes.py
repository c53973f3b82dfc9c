"""Posts, comments and tags, under a tenant's path."""

import uuid
from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Response, status
from sqlmodel import Session

from blog.auth.dependencies import TOKEN_OPTIONAL, AuthorUser, CurrentUser, OptionalUser
from blog.database import SessionDep
from blog.errors import responses
from blog.pagination import Page, PageDep, json_page
from blog.posts import service
from blog.posts.dependencies import EditablePost, PathComment, VisiblePost
from blog.posts.exceptions import DraftsNeedLogin
from blog.posts.models import Post, PostStatus
from blog.posts.schemas import (
    CommentCreate,
    CommentRead,
    PostCreate,
    PostRead,
    PostSummary,
    PostUpdate,
    TagCount,
    UserWithPosts,
)
from blog.schemas import NoNul
from blog.users.models import User

router = APIRouter(tags=["posts"])

Summary = TypeVar("Summary", bound=PostSummary)


def _marked(
    session: Session, posts: Sequence[Post], viewer: User | None, schema: type[Summary]
) -> list[Summary]:
    """Posts as ``schema``, with favorite counts and the caller's own marks."""
    marks = service.favorite_marks(session, posts=posts, viewer=viewer)
    return [
        schema.model_validate(post).model_copy(
            update={"favorites_count": marks[post.id][0], "favorited": marks[post.id][1]}
        )
        for post in posts
    ]


def _read(session: Session, post: Post, viewer: User | None) -> PostRead:
    return _marked(session, [post], viewer, PostRead)[0]


SearchText = Annotated[
    str | None,
    Query(max_length=200, description="Matches title, description or body, ignoring case."),
    NoNul,
]


@router.get(
    "/posts",
    response_model=Page[PostSummary],
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="List posts, newest first",
)
def list_posts(
    viewer: OptionalUser,
    session: SessionDep,
    page: PageDep,
    status: Annotated[
        PostStatus,
        Query(description="`draft`: your own drafts (editors: everyone's); needs a token."),
    ] = PostStatus.published,
    author: Annotated[str | None, Query(max_length=32, description="A username."), NoNul] = None,
    tag: Annotated[str | None, Query(max_length=50), NoNul] = None,
    q: SearchText = None,
    favorited: Annotated[
        str | None, Query(max_length=32, description="Favorited by this username."), NoNul
    ] = None,
) -> Response:
    if status == PostStatus.draft and viewer is None:
        raise DraftsNeedLogin()
    items, total = service.list_post_summaries(
        session,
        viewer=viewer,
        params=page,
        status=status,
        author=author,
        tag=tag,
        q=q,
        favorited_by=favorited,
    )
    return json_page(items, total, page)


@router.post(
    "/posts",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 403, 409, 413),
    summary="Write a post (authors and above)",
)
def create_post(data: PostCreate, author: AuthorUser, session: SessionDep) -> PostRead:
    return _read(session, service.create_post(session, author=author, data=data), author)


@router.get(
    "/posts/by-slug/{slug}",
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="A post by its slug",
)
def read_post_by_slug(
    slug: Annotated[str, NoNul], viewer: OptionalUser, session: SessionDep
) -> PostRead:
    return _read(session, service.get_post(session, viewer=viewer, slug=slug), viewer)


@router.get(
    "/posts/{post_id}", responses=responses(401), openapi_extra=TOKEN_OPTIONAL, summary="A post"
)
def read_post(post: VisiblePost, viewer: OptionalUser, session: SessionDep) -> PostRead:
    return _read(session, post, viewer)


@router.patch(
    "/posts/{post_id}",
    responses=responses(400, 401, 403, 409, 413),
    summary="Change a post (its author, or editors)",
)
def update_post(
    post: EditablePost, editor: CurrentUser, data: PostUpdate, session: SessionDep
) -> PostRead:
    return _read(session, service.update_post(session, post=post, editor=editor, data=data), editor)


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
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="Comments, oldest first",
)
def list_comments(post: VisiblePost, session: SessionDep, page: PageDep) -> Page[CommentRead]:
    comments, total = service.list_comments(session, post=post, params=page)
    return Page[CommentRead].of(comments, total, page)


@router.post(
    "/posts/{post_id}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=responses(400, 401, 409, 413),
    summary="Comment on a published post (any member)",
)
def add_comment(
    author: CurrentUser, post: VisiblePost, data: CommentCreate, session: SessionDep
) -> CommentRead:
    return CommentRead.model_validate(
        service.add_comment(session, post=post, author=author, data=data)
    )


@router.delete(
    "/posts/{post_id}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403),
    summary="Delete a comment (its author, the post's author, or editors)",
)
def delete_comment(
    actor: CurrentUser, post: VisiblePost, comment: PathComment, session: SessionDep
) -> None:
    service.delete_comment(session, post=post, comment=comment, actor=actor)


@router.get("/tags", summary="Tags of published posts, most used first")
def list_tags(session: SessionDep, page: PageDep) -> Page[TagCount]:
    rows, total = service.list_tags(session, params=page)
    return Page[TagCount].of(rows, total, page)


@router.get(
    "/users/{user_id}/with-posts",
    responses=responses(401),
    openapi_extra=TOKEN_OPTIONAL,
    summary="A public profile with the user's posts",
)
def read_user_with_posts(
    user_id: uuid.UUID, viewer: OptionalUser, session: SessionDep
) -> UserWithPosts:
    """Published posts only, unless the caller is that user or an editor (drafts too)."""
    user = service.get_user_with_posts(session, user_id=user_id, viewer=viewer)
    return UserWithPosts.model_validate(user)


@router.get("/feed", responses=responses(401), summary="Posts of the authors you follow")
def feed(viewer: CurrentUser, session: SessionDep, page: PageDep) -> Page[PostSummary]:
    posts, total = service.list_feed(session, viewer=viewer, params=page)
    return Page[PostSummary].of(_marked(session, posts, viewer, PostSummary), total, page)


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
