"""Dependencies that load a post or comment *and* check the caller may use it."""

import uuid
from typing import Annotated

from fastapi import Depends

from blog.auth.dependencies import PostsReader, PostsWriter
from blog.database import SessionDep, lookup
from blog.keys.exceptions import KeyNotAllowed
from blog.keys.service import KeyCaller
from blog.posts import service
from blog.posts.exceptions import DraftsNeedLogin
from blog.posts.models import Comment, Post, PostStatus
from blog.users.models import User


async def get_visible_post(post_id: uuid.UUID, viewer: PostsReader, session: SessionDep) -> Post:
    """The post in the path, if the caller may see it (404 otherwise, drafts included)."""
    return await lookup(session, service.get_post, viewer=viewer, post_id=post_id)


VisiblePost = Annotated[Post, Depends(get_visible_post)]


async def get_editable_post(user: PostsWriter, post_id: uuid.UUID, session: SessionDep) -> Post:
    """The post in the path, if the caller is its author or an editor."""
    post = await lookup(session, service.get_post, viewer=user, post_id=post_id)
    service.ensure_can_edit(post, user=user)
    return post


EditablePost = Annotated[Post, Depends(get_editable_post)]


def get_comment(post: VisiblePost, comment_id: uuid.UUID, session: SessionDep) -> Comment:
    return service.get_comment(session, post=post, comment_id=comment_id)


PathComment = Annotated[Comment, Depends(get_comment)]


def ensure_may_list(status: PostStatus, *, viewer: User | None, key: KeyCaller | None) -> None:
    """Lists of drafts or scheduled posts need a caller: a token (401 without one), or an
    admin key with ``posts:read`` (any other key: 403)."""
    if status == PostStatus.published or viewer is not None:
        return
    if key is not None:
        raise KeyNotAllowed("This API key lacks the `posts:read` scope.")
    raise DraftsNeedLogin()
