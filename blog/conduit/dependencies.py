"""Who is calling, and the article, profile or comment the path names, for the RealWorld API.

The caller comes from the native dependencies (:class:`blog.auth.dependencies.Callers`)
given this API's token scheme, tenant and 401 wording; no rule of who may do what is
written here. Write routes ask for the caller before the resource, so an anonymous write
is a 401 even when the resource does not exist (a 404 would tell strangers what exists).
"""

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader

from blog.auth.dependencies import Callers, login_limit, require_commenter, require_writer
from blog.auth.exceptions import InvalidAccessToken
from blog.conduit import schemas
from blog.database import SessionDep
from blog.errors import Unauthorized
from blog.posts import service as posts_service
from blog.posts.exceptions import PostNotFound
from blog.posts.models import SLUG_MAX_LENGTH, Comment, Post
from blog.tenants.dependencies import bind_tenant_by_slug
from blog.tenants.exceptions import TenantNotFound
from blog.tenants.models import SLUG_MAX_LENGTH as TENANT_SLUG_MAX_LENGTH
from blog.tenants.models import Tenant
from blog.users import service as users_service
from blog.users.models import User

COMMENT_NUMBER_MAX = 2**31 - 1


class TokenMissing(Unauthorized):
    code = "token_missing"
    detail = "Not authenticated: send `Authorization: Token <jwt>`."


token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    auto_error=False,
    description=(
        "`Token <jwt>` (or `Bearer <jwt>`), the `token` from `POST /users` or "
        "`POST /users/login`; valid only in the blog that issued it."
    ),
)


async def get_tenant(request: Request, session: SessionDep) -> Tenant:
    """The blog of the mount path ``/conduit/{tenant}/api``; binds the session to it."""
    slug = request.path_params.get("tenant", "")
    if len(slug) > TENANT_SLUG_MAX_LENGTH or "\x00" in slug:
        raise TenantNotFound()
    return await bind_tenant_by_slug(request, session, slug)


ConduitTenant = Annotated[Tenant, Depends(get_tenant)]


async def get_token(header: Annotated[str | None, Depends(token_header)]) -> str | None:
    """The token of ``Authorization: Token <jwt>`` or ``Bearer <jwt>``; None when absent."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in {"token", "bearer"} or not token.strip():
        raise InvalidAccessToken()
    return token.strip()


PresentedToken = Annotated[str | None, Depends(get_token)]

CONDUIT_CALLERS = Callers(token=get_token, tenant=get_tenant, missing=TokenMissing)
OptionalUser = Annotated[User | None, Depends(CONDUIT_CALLERS.optional_user)]
CurrentUser = Annotated[User, Depends(CONDUIT_CALLERS.current_user)]
Writer = Annotated[User, Depends(require_writer(CONDUIT_CALLERS))]
Commenter = Annotated[User, Depends(require_commenter(CONDUIT_CALLERS))]


async def get_login(data: schemas.LoginUserRequest) -> schemas.LoginUser:
    """The credentials of ``POST /users/login``: one parse, for its rate limit and the route."""
    return data.user


LoginCredentials = Annotated[schemas.LoginUser, Depends(get_login)]


async def _login_email(credentials: LoginCredentials) -> str:
    return credentials.email


# The native login's limits, counting the email of the RealWorld body.
LoginLimit = Depends(login_limit(_login_email, tenant=get_tenant))

SlugPath = Annotated[str, Path(description="The article's slug.")]


def _article(session: SessionDep, viewer: User | None, slug: str) -> Post:
    if len(slug) > SLUG_MAX_LENGTH or "\x00" in slug:
        raise PostNotFound()
    return posts_service.get_post(session, viewer=viewer, slug=slug)


def get_visible_article(slug: SlugPath, viewer: OptionalUser, session: SessionDep) -> Post:
    return _article(session, viewer, slug)


VisibleArticle = Annotated[Post, Depends(get_visible_article)]


def get_member_article(user: CurrentUser, slug: SlugPath, session: SessionDep) -> Post:
    """The article, for a signed-in member (401 first, then 404)."""
    return _article(session, user, slug)


MemberArticle = Annotated[Post, Depends(get_member_article)]


async def get_editable_article(user: CurrentUser, article: MemberArticle) -> Post:
    """The article, if the caller is its author or an editor (403 otherwise)."""
    posts_service.ensure_can_edit(article, user=user)
    return article


EditableArticle = Annotated[Post, Depends(get_editable_article)]


def get_comment(
    article: MemberArticle,
    number: Annotated[
        int, Path(alias="id", ge=1, le=COMMENT_NUMBER_MAX, description="The comment's `id`.")
    ],
    session: SessionDep,
) -> Comment:
    return posts_service.get_comment(session, post=article, number=number)


PathComment = Annotated[Comment, Depends(get_comment)]


def get_profile_user(
    username: Annotated[str, Path(description="A member's username.")], session: SessionDep
) -> User:
    return users_service.get_by_username(session, username=username)


ProfileUser = Annotated[User, Depends(get_profile_user)]


def get_followee(
    _user: CurrentUser,
    username: Annotated[str, Path(description="A member's username.")],
    session: SessionDep,
) -> User:
    """The member to (un)follow, for a signed-in caller (401 first, then 404)."""
    return users_service.get_by_username(session, username=username)


Followee = Annotated[User, Depends(get_followee)]
