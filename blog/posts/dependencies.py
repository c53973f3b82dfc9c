"""Dependencies that load a post or comment *and* check the caller may use it."""

import uuid
from typing import Annotated

from fastapi import Depends

from blog.auth.dependencies import CurrentUser, OptionalUser
from blog.database import SessionDep, lookup
from blog.posts import service
from blog.posts.models import Comment, Post


async def get_visible_post(post_id: uuid.UUID, viewer: OptionalUser, session: SessionDep) -> Post:
    """The post in the path, if the caller may see it (404 otherwise, drafts included)."""
    return await lookup(session, service.get_post, viewer=viewer, post_id=post_id)


VisiblePost = Annotated[Post, Depends(get_visible_post)]


async def get_editable_post(user: CurrentUser, post_id: uuid.UUID, session: SessionDep) -> Post:
    """The post in the path, if the caller is its author or an editor."""
    post = await lookup(session, service.get_post, viewer=user, post_id=post_id)
    service.ensure_can_edit(post, user=user)
    return post


EditablePost = Annotated[Post, Depends(get_editable_post)]


def get_comment(post: VisiblePost, comment_id: uuid.UUID, session: SessionDep) -> Comment:
    return service.get_comment(session, post=post, comment_id=comment_id)


PathComment = Annotated[Comment, Depends(get_comment)]
