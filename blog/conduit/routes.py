"""The RealWorld API's routes: each parses, calls the domain's services, and reshapes.

Articles are the domain's posts (published on creation), profiles its users, comments
are numbered per article. No rule lives here that the native API does not also obey.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from blog.auth import links
from blog.auth import service as auth_service
from blog.auth.dependencies import PASSWORD_WORK, TOKEN_OPTIONAL, SignupLimit, login_counter
from blog.cache import found_version
from blog.conduit import schemas
from blog.conduit.dependencies import (
    Commenter,
    ConduitTenant,
    CurrentUser,
    EditableArticle,
    Followee,
    LoginCredentials,
    LoginLimit,
    MemberArticle,
    OptionalUser,
    PathComment,
    PresentedToken,
    ProfileUser,
    VisibleArticle,
    Writer,
)
from blog.conduit.errors import conduit_responses
from blog.database import SessionDep
from blog.dependencies import AuthConfigDep, SettingsDep
from blog.pagination import PageDep, PageParams
from blog.posts import listing as posts_listing
from blog.posts import service as posts_service
from blog.posts.listing import Listing as PostListing
from blog.posts.listing import PostFilter
from blog.posts.models import Comment, Post, PostStatus
from blog.posts.schemas import CommentCreate, PostCreate, PostSummaryData, PostUpdate
from blog.schemas import NoNul
from blog.shared import Mark, MarkKind, Scheme, shared_response
from blog.users import service as users_service
from blog.users.models import User
from blog.users.schemas import UserCreate, UserSelfUpdate

router = APIRouter()

# Lists the spec leaves unpaginated, bounded all the same.
MAX_COMMENTS = 500
MAX_TAGS = 500
# A deleted account's articles stay; the spec needs an author, and no username has '['.
DELETED_AUTHOR = schemas.Profile(username="[deleted]", bio=None, image=None, following=False)


# --- shaping domain objects ----------------------------------------------------------------


def _profile(user: User | None, following: bool) -> schemas.Profile:
    if user is None:
        return DELETED_AUTHOR
    return schemas.Profile(
        username=user.username, bio=user.bio, image=user.image, following=following
    )


def _profiles(
    session: Session, viewer: User | None, users: Iterable[User | None]
) -> dict[object, schemas.Profile]:
    """Profiles by user id (None for a deleted author), following marks in one query."""
    present = {user.id: user for user in users if user is not None}
    followed = users_service.followed_among(session, viewer=viewer, user_ids=present.keys())
    shaped: dict[object, schemas.Profile] = {None: DELETED_AUTHOR}
    shaped.update({key: _profile(user, key in followed) for key, user in present.items()})
    return shaped


def _article(session: Session, post: Post, viewer: User | None) -> schemas.SingleArticleResponse:
    """A whole article, with its favorite count and the caller's marks."""
    count, mine = posts_service.favorites_of(session, post=post, viewer=viewer)
    return schemas.SingleArticleResponse(
        article=schemas.Article(
            slug=post.slug,
            title=post.title,
            description=post.description,
            body=post.body,
            tag_list=post.tag_names,
            created_at=post.created_at,
            updated_at=post.updated_at,
            favorited=mine,
            favorites_count=count,
            author=_profiles(session, viewer, [post.author])[post.author_id],
        )
    )


def _summary(item: PostSummaryData) -> schemas.ArticleSummary:
    """A list item as an article, with a slot for each of the viewer's marks."""
    author = item["author"]
    profile = (
        DELETED_AUTHOR
        if author is None
        else schemas.Profile.model_construct(
            username=author["username"],
            bio=author["bio"],
            image=author["image"],
            following=Mark(MarkKind.following, author["id"]),  # type: ignore[arg-type]  # a slot
        )
    )
    return schemas.ArticleSummary.model_construct(
        slug=item["slug"],
        title=item["title"],
        description=item["description"],
        tag_list=item["tags"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        favorited=Mark(MarkKind.favorited, item["id"]),  # type: ignore[arg-type]  # a slot
        favorites_count=item["favorites_count"],
        author=profile,
    )


def _article_list(
    request: Request,
    session: Session,
    listing: PostListing,
    *,
    viewer: User | None,
    shareable: bool,
) -> Response:
    """Articles with the caller's favorite and follow marks, in a body every reader shares."""
    posts = [item["id"] for item in listing.items]
    authors = {item["author"]["id"] for item in listing.items if item["author"] is not None}
    marks = {
        Mark(MarkKind.favorited, post_id)
        for post_id in posts_listing.favorited_among(session, viewer=viewer, post_ids=posts)
    } | {
        Mark(MarkKind.following, user_id)
        for user_id in users_service.followed_among(session, viewer=viewer, user_ids=authors)
    }
    content = schemas.MultipleArticlesResponse.model_construct(
        articles=[_summary(item) for item in listing.items], articles_count=listing.total
    )
    return shared_response(
        request, content, marks=marks, shareable=shareable, schemes=(Scheme.token, Scheme.bearer)
    )


def _comments(
    session: Session, comments: Sequence[Comment], viewer: User | None
) -> list[schemas.Comment]:
    authors = _profiles(session, viewer, (comment.author for comment in comments))
    return [
        schemas.Comment(
            id=comment.number,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            body=comment.body,
            author=authors[comment.author_id],
        )
        for comment in comments
    ]


def _user(user: User, token: str) -> schemas.UserResponse:
    return schemas.UserResponse(
        user=schemas.User(
            email=user.email, token=token, username=user.username, bio=user.bio, image=user.image
        )
    )


def _new_token(user: User, auth: AuthConfigDep, settings: SettingsDep) -> str:
    return auth.tokens.issue(
        user_id=user.id,
        tenant_id=user.tenant_id,
        generation=user.token_generation,
        lifetime=timedelta(hours=settings.conduit_token_hours),
    )


# --- users and profiles ----------------------------------------------------------------------


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    dependencies=[SignupLimit, PASSWORD_WORK],
    responses=conduit_responses(400, 413, 403, 409, 422, 429),
    tags=["User and Authentication"],
    summary="Register",
    operation_id="CreateUser",
)
def register(
    data: schemas.NewUserRequest,
    tenant: ConduitTenant,
    session: SessionDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
) -> schemas.UserResponse:
    new = data.user
    user = users_service.register(
        session,
        tenant=tenant,
        hasher=auth.hasher,
        data=UserCreate(email=new.email, username=new.username, password=new.password),
    )
    links.send_verification(session, auth=auth, tenant=tenant, user=user)
    return _user(user, _new_token(user, auth, settings))


@router.post(
    "/users/login",
    dependencies=[LoginLimit, PASSWORD_WORK, login_counter("realworld")],
    responses=conduit_responses(400, 413, 401, 422, 429),
    tags=["User and Authentication"],
    summary="Log in with email and password",
    operation_id="Login",
)
def login(
    credentials: LoginCredentials,
    tenant: ConduitTenant,
    session: SessionDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
) -> schemas.UserResponse:
    user = auth_service.check_credentials(
        session,
        auth=auth,
        tenant=tenant,
        login=credentials.email,
        password=credentials.password,
    )
    return _user(user, _new_token(user, auth, settings))


@router.get(
    "/user",
    responses=conduit_responses(401),
    tags=["User and Authentication"],
    summary="The current user",
    operation_id="GetCurrentUser",
)
def read_user(user: CurrentUser, token: PresentedToken) -> schemas.UserResponse:
    return _user(user, token or "")


@router.put(
    "/user",
    dependencies=[PASSWORD_WORK],
    responses=conduit_responses(400, 413, 401, 409, 422),
    tags=["User and Authentication"],
    summary="Update the current user",
    operation_id="UpdateCurrentUser",
)
def update_user(
    data: schemas.UpdateUserRequest,
    user: CurrentUser,
    tenant: ConduitTenant,
    token: PresentedToken,
    session: SessionDep,
    auth: AuthConfigDep,
    settings: SettingsDep,
) -> schemas.UserResponse:
    """A new `email` takes effect at once, unverified: the old address is told and the new
    one gets a verification link. A new `password` ends every other token and login: the
    answer carries a new token."""
    changes = data.user.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    email = changes.pop("email", None)
    users_service.update_profile(session, user=user, data=UserSelfUpdate(**changes))
    if email is not None:
        links.change_email_at_once(session, auth=auth, tenant=tenant, user=user, new_email=email)
    if password is not None:
        auth_service.replace_password(session, auth=auth, user=user, password=password)
        token = _new_token(user, auth, settings)
    return _user(user, token or "")


@router.get(
    "/profiles/{username}",
    responses=conduit_responses(401, 404),
    openapi_extra=TOKEN_OPTIONAL,
    tags=["Profile"],
    summary="A profile",
    operation_id="GetProfileByUsername",
)
def read_profile(
    target: ProfileUser, viewer: OptionalUser, session: SessionDep
) -> schemas.ProfileResponse:
    return schemas.ProfileResponse(profile=_profiles(session, viewer, [target])[target.id])


@router.post(
    "/profiles/{username}/follow",
    responses=conduit_responses(401, 404, 422),
    tags=["Profile"],
    summary="Follow a member",
    operation_id="FollowUserByUsername",
)
def follow(user: CurrentUser, target: Followee, session: SessionDep) -> schemas.ProfileResponse:
    users_service.follow(session, follower=user, followed=target)
    return schemas.ProfileResponse(profile=_profile(target, following=True))


@router.delete(
    "/profiles/{username}/follow",
    responses=conduit_responses(401, 404),
    tags=["Profile"],
    summary="Unfollow a member",
    operation_id="UnfollowUserByUsername",
)
def unfollow(user: CurrentUser, target: Followee, session: SessionDep) -> schemas.ProfileResponse:
    users_service.unfollow(session, follower=user, followed=target)
    return schemas.ProfileResponse(profile=_profile(target, following=False))


# --- articles ------------------------------------------------------------------------------

Username = Annotated[str | None, Query(max_length=32, description="A username."), NoNul]


@router.get(
    "/articles/feed",
    response_model=schemas.MultipleArticlesResponse,
    responses=conduit_responses(401, 422),
    tags=["Articles"],
    summary="Articles of the members you follow, newest first",
    operation_id="GetArticlesFeed",
)
def feed(request: Request, viewer: CurrentUser, session: SessionDep, page: PageDep) -> Response:
    listing = posts_listing.list_posts(
        session, filter=PostFilter(followed_by=viewer.id), viewer=viewer, page=page
    )
    return _article_list(request, session, listing, viewer=viewer, shareable=False)


@router.get(
    "/articles",
    response_model=schemas.MultipleArticlesResponse,
    responses=conduit_responses(401, 422),
    openapi_extra=TOKEN_OPTIONAL,
    tags=["Articles"],
    summary="Articles, newest first",
    operation_id="GetArticles",
)
def list_articles(
    request: Request,
    tenant: ConduitTenant,
    viewer: OptionalUser,
    session: SessionDep,
    page: PageDep,
    tag: Annotated[str | None, Query(max_length=50), NoNul] = None,
    author: Username = None,
    favorited: Username = None,
) -> Response:
    posts_filter = PostFilter(tag=tag, author=author, favorited_by=favorited)
    listing = posts_listing.list_posts(
        session,
        filter=posts_filter,
        viewer=viewer,
        page=page,
        version=found_version(request, tenant.id),
    )
    return _article_list(request, session, listing, viewer=viewer, shareable=posts_filter.public)


@router.post(
    "/articles",
    status_code=status.HTTP_201_CREATED,
    responses=conduit_responses(400, 413, 401, 403, 422),
    tags=["Articles"],
    summary="Write an article (published at once)",
    operation_id="CreateArticle",
)
def create_article(
    data: schemas.NewArticleRequest, author: Writer, session: SessionDep, settings: SettingsDep
) -> schemas.SingleArticleResponse:
    new = data.article
    post = posts_service.create_post(
        session,
        author=author,
        data=PostCreate(
            title=new.title,
            description=new.description,
            body=new.body,
            tags=new.tag_list,
            status=PostStatus.published,
        ),
        keep_revisions=settings.revisions_per_post,
    )
    return _article(session, post, author)


@router.get(
    "/articles/{slug}",
    responses=conduit_responses(401, 404),
    openapi_extra=TOKEN_OPTIONAL,
    tags=["Articles"],
    summary="An article",
    operation_id="GetArticle",
)
def read_article(
    article: VisibleArticle, viewer: OptionalUser, session: SessionDep
) -> schemas.SingleArticleResponse:
    return _article(session, article, viewer)


@router.put(
    "/articles/{slug}",
    responses=conduit_responses(400, 413, 401, 403, 404, 422),
    tags=["Articles"],
    summary="Change an article (its author, or editors); a new title makes a new slug",
    operation_id="UpdateArticle",
)
def update_article(
    data: schemas.UpdateArticleRequest,
    editor: CurrentUser,
    article: EditableArticle,
    session: SessionDep,
    settings: SettingsDep,
) -> schemas.SingleArticleResponse:
    changes = data.article.model_dump(exclude_unset=True)
    if "tag_list" in changes:
        changes["tags"] = changes.pop("tag_list")
    post = posts_service.update_post(
        session,
        post=article,
        editor=editor,
        data=PostUpdate(**changes),
        slug_follows_published_title=True,
        keep_revisions=settings.revisions_per_post,
    )
    return _article(session, post, editor)


@router.delete(
    "/articles/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=conduit_responses(401, 403, 404),
    tags=["Articles"],
    summary="Delete an article with its comments (its author, or editors)",
    operation_id="DeleteArticle",
)
def delete_article(article: EditableArticle, session: SessionDep) -> None:
    posts_service.delete_post(session, post=article)


@router.post(
    "/articles/{slug}/favorite",
    responses=conduit_responses(401, 404),
    tags=["Favorites"],
    summary="Favorite an article",
    operation_id="CreateArticleFavorite",
)
def favorite(
    user: CurrentUser, article: MemberArticle, session: SessionDep
) -> schemas.SingleArticleResponse:
    posts_service.favorite(session, post=article, user=user)
    return _article(session, article, user)


@router.delete(
    "/articles/{slug}/favorite",
    responses=conduit_responses(401, 404),
    tags=["Favorites"],
    summary="Unfavorite an article",
    operation_id="DeleteArticleFavorite",
)
def unfavorite(
    user: CurrentUser, article: MemberArticle, session: SessionDep
) -> schemas.SingleArticleResponse:
    posts_service.unfavorite(session, post=article, user=user)
    return _article(session, article, user)


# --- comments and tags -----------------------------------------------------------------------


@router.get(
    "/articles/{slug}/comments",
    responses=conduit_responses(401, 404),
    openapi_extra=TOKEN_OPTIONAL,
    tags=["Comments"],
    summary=f"An article's comments, oldest first (at most {MAX_COMMENTS})",
    operation_id="GetArticleComments",
)
def list_comments(
    article: VisibleArticle, viewer: OptionalUser, session: SessionDep
) -> schemas.MultipleCommentsResponse:
    comments, _ = posts_service.list_comments(
        session, post=article, params=PageParams(limit=MAX_COMMENTS)
    )
    return schemas.MultipleCommentsResponse(comments=_comments(session, comments, viewer))


@router.post(
    "/articles/{slug}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=conduit_responses(400, 413, 401, 403, 404, 409, 422),
    tags=["Comments"],
    summary="Comment on an article",
    operation_id="CreateArticleComment",
)
def add_comment(
    data: schemas.NewCommentRequest,
    author: Commenter,
    article: MemberArticle,
    session: SessionDep,
) -> schemas.SingleCommentResponse:
    comment = posts_service.add_comment(
        session, post=article, author=author, data=CommentCreate(body=data.comment.body)
    )
    return schemas.SingleCommentResponse(comment=_comments(session, [comment], author)[0])


@router.delete(
    "/articles/{slug}/comments/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=conduit_responses(401, 403, 404, 422),
    tags=["Comments"],
    summary="Delete a comment (its author, the article's author, or editors)",
    operation_id="DeleteArticleComment",
)
def delete_comment(
    actor: CurrentUser, article: MemberArticle, comment: PathComment, session: SessionDep
) -> None:
    posts_service.delete_comment(session, post=article, comment=comment, actor=actor)


@router.get(
    "/tags",
    tags=["Tags"],
    summary=f"Tags of articles, most used first (at most {MAX_TAGS})",
    operation_id="GetTags",
)
def list_tags(session: SessionDep) -> schemas.TagsResponse:
    rows, _ = posts_service.list_tags(session, params=PageParams(limit=MAX_TAGS))
    return schemas.TagsResponse(tags=[row.name for row in rows])
