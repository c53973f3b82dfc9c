"""API shapes for a post's revisions and autosaves."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from blog.pagination import Page
from blog.posts.schemas import Body, Description, PostRead, TagList, Title
from blog.schemas import InputModel, Omittable


class RevisionSummary(BaseModel):
    """A revision in a post's history (no body)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    post_id: uuid.UUID
    author_id: uuid.UUID | None = Field(
        description="Who saved it; null once that account is deleted."
    )
    title: str
    description: str
    tags: list[str]
    created_at: datetime = Field(description="When it was saved.")


class RevisionRead(RevisionSummary):
    """A revision: the post's title, description, body and tags as one save left them."""

    body: str


class RevisionPage(Page[RevisionSummary]):
    """A page of a post's revisions, newest first."""


class AutosaveWrite(InputModel):
    """The writer's working copy: the fields they have touched; omitted: as saved. Each
    autosave replaces the last one whole."""

    title: Omittable[Title] = None
    body: Omittable[Body] = None
    description: Omittable[Description] = None
    tags: Omittable[TagList] = None


class AutosaveRead(BaseModel):
    """A writer's working copy of a post; null fields: as saved."""

    model_config = ConfigDict(from_attributes=True)

    post_id: uuid.UUID
    user_id: uuid.UUID = Field(description="The writer whose working copy it is.")
    title: str | None
    description: str | None
    body: str | None
    tags: list[str] | None
    saved_at: datetime


class AutosavePage(Page[AutosaveRead]):
    """Working copies of a post: your own (editors: everyone's), newest first."""


class PostForEditing(PostRead):
    """A post opened for editing: as saved, with your autosave if it is newer."""

    autosave: AutosaveRead | None = Field(
        default=None, description="Your working copy, if saved after the post was (null otherwise)."
    )
