"""The RealWorld ("Conduit") API's shapes: camelCase fields inside one-key envelopes.

Inputs reuse the domain's field types, so a value the native API refuses is refused
here too, under the RealWorld field name. Outputs are built from domain objects.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from blog.auth.schemas import Password
from blog.posts.models import DESCRIPTION_MAX_LENGTH
from blog.posts.schemas import Body, CommentBody, TagList, Title
from blog.schemas import InputModel, NoNul, Omittable, strip_text
from blog.users.models import EMAIL_MAX_LENGTH
from blog.users.schemas import Bio, Email, ImageUrl, Username

# The spec's example format: milliseconds and a Z ("2016-02-18T03:22:56.637Z").
Timestamp = Annotated[
    datetime,
    PlainSerializer(
        lambda moment: moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        return_type=str,
    ),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _empty_as_none(value: object) -> object:
    """RealWorld clients clear ``bio`` and ``image`` by sending ``""``."""
    return None if value == "" else value


def _document_empty(schema: JsonDict) -> None:
    """Lists ``""`` among a field's values: :func:`_empty_as_none` takes it before
    validation, so it is not a member of the type (whose errors a client would show)."""
    members = schema.get("anyOf")
    if isinstance(members, list):
        members.insert(-1, {"const": "", "type": "string"})


# Required and not blank here (the native API allows an empty one).
Description = Annotated[
    str, BeforeValidator(strip_text), Field(min_length=1, max_length=DESCRIPTION_MAX_LENGTH)
]


class _Input(InputModel):
    """RealWorld clients send extra fields (e.g. the whole user back); they are ignored."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, validate_by_name=True)


class _Output(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


# --- users -------------------------------------------------------------------------------


class NewUser(_Input):
    username: Username
    email: Email
    password: Password


class NewUserRequest(_Input):
    user: NewUser


class LoginUser(_Input):
    email: Annotated[str, Field(min_length=1, max_length=EMAIL_MAX_LENGTH), NoNul]
    password: Annotated[str, Field(min_length=1), NoNul]


class LoginUserRequest(_Input):
    user: LoginUser


class UpdateUser(_Input):
    """Omitted fields are kept; ``""`` (or null) for ``bio`` or ``image`` clears it."""

    email: Omittable[Email] = None
    username: Omittable[Username] = None
    password: Omittable[Password] = None
    bio: Annotated[Bio | None, BeforeValidator(_empty_as_none)] = None
    image: Annotated[
        ImageUrl | None,
        BeforeValidator(_empty_as_none),
        Field(json_schema_extra=_document_empty),
    ] = None


class UpdateUserRequest(_Input):
    user: UpdateUser


class User(_Output):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(_Output):
    user: User


class Profile(_Output):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(_Output):
    profile: Profile


# --- articles ----------------------------------------------------------------------------


class NewArticle(_Input):
    title: Title
    description: Description
    body: Body
    tag_list: TagList = []


class NewArticleRequest(_Input):
    article: NewArticle


class UpdateArticle(_Input):
    """Omitted fields are kept; ``tagList`` replaces the tags (``[]`` clears them)."""

    title: Omittable[Title] = None
    description: Omittable[Description] = None
    body: Omittable[Body] = None
    tag_list: Omittable[TagList] = None


class UpdateArticleRequest(_Input):
    article: UpdateArticle


class ArticleSummary(_Output):
    """An article in a list: everything but the body."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    favorited: bool
    favorites_count: int
    author: Profile


class Article(ArticleSummary):
    body: str


class SingleArticleResponse(_Output):
    article: Article


class MultipleArticlesResponse(_Output):
    articles: list[ArticleSummary]
    articles_count: int = Field(description="All matching articles, not just this page.")


# --- comments and tags -------------------------------------------------------------------


class NewComment(_Input):
    body: CommentBody


class NewCommentRequest(_Input):
    comment: NewComment


class Comment(_Output):
    id: int = Field(description="The comment's number within its article (1, 2, 3…).")
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: Profile


class SingleCommentResponse(_Output):
    comment: Comment


class MultipleCommentsResponse(_Output):
    comments: list[Comment]


class TagsResponse(_Output):
    tags: list[str]


class GenericErrorModel(BaseModel):
    """Every error: field (or resource) names, each with its messages."""

    errors: dict[str, list[str]] = Field(examples=[{"title": ["can't be blank"]}])
