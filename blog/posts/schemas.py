"""API shapes for posts, tags and comments."""

import uuid
from datetime import datetime
from typing import Annotated, TypedDict

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from blog.pagination import CursorPage, Page
from blog.posts.models import (
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    MAX_TAGS_PER_POST,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    PostStatus,
)
from blog.schemas import InputModel, Omittable, lower_text, strip_text
from blog.users.models import Role
from blog.users.schemas import UserPublic


def _drop_repeats(tags: list[str]) -> list[str]:
    """Keep each tag's first occurrence, in place."""
    return list(dict.fromkeys(tags))


# Normalized before the length check: lower-casing can lengthen text ("İ" -> "i̇").
TagName = Annotated[
    str, BeforeValidator(lower_text), Field(min_length=1, max_length=TAG_MAX_LENGTH)
]
TagList = Annotated[
    list[TagName],
    Field(
        max_length=MAX_TAGS_PER_POST,
        description=(
            f"At most {MAX_TAGS_PER_POST}; trimmed and lower-cased, repeats dropped, order kept."
        ),
        examples=[["python", "fastapi"]],
    ),
    AfterValidator(_drop_repeats),
]
Title = Annotated[
    str, BeforeValidator(strip_text), Field(min_length=1, max_length=TITLE_MAX_LENGTH)
]


def _not_blank(text: str) -> str:
    """Markdown keeps its white space (indented code), but a body of nothing else is blank."""
    if not text.strip():
        raise PydanticCustomError("blank", "must not be only white space")
    return text


Body = Annotated[
    str,
    Field(min_length=1, max_length=BODY_MAX_LENGTH, description="Markdown text."),
    AfterValidator(_not_blank),
]
Description = Annotated[
    str,
    BeforeValidator(strip_text),
    Field(max_length=DESCRIPTION_MAX_LENGTH, description="A short summary."),
]
CommentBody = Annotated[
    str, BeforeValidator(strip_text), Field(min_length=1, max_length=COMMENT_MAX_LENGTH)
]


PublishAt = Annotated[
    AwareDatetime,
    Field(
        description="With `status: scheduled` (and only then): when the post is published,"
        " in the future, with a time zone. Until then only its author and editors see it."
    ),
]


class PostCreate(InputModel):
    title: Title
    body: Body
    description: Description = ""
    tags: TagList = []
    status: PostStatus = PostStatus.draft
    published_at: PublishAt | None = None


class PostUpdate(InputModel):
    """Omitted fields are kept; ``tags`` replaces the list when given (``[]`` clears it)."""

    title: Omittable[Title] = None
    body: Omittable[Body] = None
    description: Omittable[Description] = None
    tags: Omittable[TagList] = None
    status: Omittable[PostStatus] = None
    published_at: Omittable[PublishAt] = None


class _PostFields(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    title: str
    description: str
    status: PostStatus
    tags: list[str] = Field(validation_alias="tag_names")
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PostBrief(_PostFields):
    """A post in a list under its author (no body, no author)."""


class PostSummary(_PostFields):
    """A post in a list: everything but the body."""

    author: UserPublic | None = Field(description="Null once the author's account is deleted.")
    favorites_count: int = Field(default=0, description="Members who favorited it.")
    favorited: bool = Field(default=False, description="Whether the caller favorited it.")


class PostListItem(PostSummary):
    """A post in the list of a blog's posts: with ``q``, what the search found."""

    snippet: str | None = Field(
        default=None,
        description="With `q`: the body around the words found, as HTML: the text escaped, "
        "each matched word in `<mark>…</mark>`, fragments joined by `…`. Null without `q`.",
        examples=["the <mark>river</mark> runs past the old mill"],
    )


class PostPage(CursorPage[PostListItem]):
    """A page of posts."""


class FeedPage(CursorPage[PostSummary]):
    """A page of the posts of the authors you follow."""


class AuthorData(TypedDict):
    """:class:`UserPublic` as plain data, for lists built without models."""

    id: uuid.UUID
    username: str
    name: str | None
    bio: str | None
    image: str | None
    role: Role
    created_at: datetime


class PostSummaryData(TypedDict):
    """:class:`PostSummary` as plain data: the same keys in the same order (a test checks)."""

    id: uuid.UUID
    slug: str
    title: str
    description: str
    status: PostStatus
    tags: list[str]
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    author: AuthorData | None
    favorites_count: int
    favorited: bool


class PostRead(PostSummary):
    """A whole post."""

    body: str


class TagCount(BaseModel):
    name: str
    posts_count: int = Field(description="Published posts with this tag.")


class TagCountPage(Page[TagCount]):
    """A page of tags with their counts."""


class CommentCreate(InputModel):
    body: CommentBody


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    post_id: uuid.UUID
    number: int = Field(description="1, 2, 3… within the post; never reused.")
    body: str
    author: UserPublic
    created_at: datetime
    updated_at: datetime


class CommentPage(Page[CommentRead]):
    """A page of comments."""


class UserWithPosts(UserPublic):
    """A public profile with the user's posts, newest first."""

    posts: list[PostBrief]
