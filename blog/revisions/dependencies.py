"""Dependencies that load a revision of a post the caller may edit."""

import uuid
from typing import Annotated

from fastapi import Depends

from blog.database import SessionDep, lookup
from blog.posts.dependencies import EditablePost
from blog.revisions import service
from blog.revisions.models import PostRevision


async def get_revision(
    post: EditablePost, revision_id: uuid.UUID, session: SessionDep
) -> PostRevision:
    """A revision of the post in the path, for its author or an editor."""
    return await lookup(session, service.get_revision, post=post, revision_id=revision_id)


PathRevision = Annotated[PostRevision, Depends(get_revision)]
