"""A post's revisions and autosaves, under its path: for its author and editors."""

from typing import TypeVar

from fastapi import APIRouter, Response
from sqlmodel import Session

from blog.auth.dependencies import PostsWriter
from blog.database import SessionDep
from blog.dependencies import SettingsDep
from blog.errors import responses
from blog.pagination import PAGE_HEADERS, PageDep, PageHeadersDep
from blog.posts import service as posts_service
from blog.posts.dependencies import EditablePost
from blog.posts.models import Post
from blog.posts.schemas import PostRead
from blog.revisions import service
from blog.revisions.dependencies import PathRevision
from blog.revisions.schemas import (
    AutosavePage,
    AutosaveRead,
    AutosaveWrite,
    PostForEditing,
    RevisionPage,
    RevisionRead,
)
from blog.users.models import User

router = APIRouter(tags=["revisions"])

Read = TypeVar("Read", bound=PostRead)

# An autosave moves no content version, so the response cache must not keep what
# shows one (it would serve the copy it kept until the post next changed).
NO_STORE = "no-store"


def _read(session: Session, post: Post, viewer: User, shape: type[Read]) -> Read:
    """A whole post as ``shape``, with its favorite count and the caller's own mark."""
    count, mine = posts_service.favorites_of(session, post=post, viewer=viewer)
    return shape.model_validate(post).model_copy(
        update={"favorites_count": count, "favorited": mine}
    )


@router.get(
    "/posts/{post_id}/revisions",
    responses=responses(401, 403) | PAGE_HEADERS,
    summary="A post's revisions, newest first (its author, or editors)",
)
def list_revisions(
    post: EditablePost, session: SessionDep, page: PageDep, headers: PageHeadersDep
) -> RevisionPage:
    revisions, total = service.list_revisions(session, post=post, params=page)
    return headers(RevisionPage.of(revisions, total, page))


@router.get(
    "/posts/{post_id}/revisions/{revision_id}",
    responses=responses(401, 403),
    summary="One revision of a post, with its body (its author, or editors)",
)
def read_revision(revision: PathRevision) -> RevisionRead:
    return RevisionRead.model_validate(revision)


@router.post(
    "/posts/{post_id}/revisions/{revision_id}/restore",
    responses=responses(401, 403, 409),
    summary="Save the post as a revision had it: itself a new revision (its author, or editors)",
)
def restore_revision(
    post: EditablePost,
    revision: PathRevision,
    editor: PostsWriter,
    session: SessionDep,
    settings: SettingsDep,
) -> PostRead:
    restored = service.restore_revision(
        session,
        post=post,
        revision=revision,
        editor=editor,
        keep_revisions=settings.revisions_per_post,
    )
    return _read(session, restored, editor, PostRead)


@router.put(
    "/posts/{post_id}/autosave",
    responses=responses(400, 401, 403, 413),
    summary="Keep your working copy of a post: readers see nothing of it (its author, or editors)",
)
def save_autosave(
    post: EditablePost,
    writer: PostsWriter,
    data: AutosaveWrite,
    session: SessionDep,
    response: Response,
) -> AutosaveRead:
    autosave = service.save_autosave(session, post=post, user=writer, data=data)
    response.headers["Cache-Control"] = NO_STORE
    return AutosaveRead.model_validate(autosave)


@router.get(
    "/posts/{post_id}/autosaves",
    responses=responses(401, 403) | PAGE_HEADERS,
    summary="Working copies of a post: yours (editors: everyone's), newest first",
)
def list_autosaves(
    post: EditablePost,
    writer: PostsWriter,
    session: SessionDep,
    page: PageDep,
    headers: PageHeadersDep,
    response: Response,
) -> AutosavePage:
    autosaves, total = service.list_autosaves(session, post=post, viewer=writer, params=page)
    response.headers["Cache-Control"] = NO_STORE
    return headers(AutosavePage.of(autosaves, total, page))


@router.get(
    "/posts/{post_id}/edit",
    responses=responses(401, 403),
    summary="Open a post for editing: as saved, with your autosave if newer",
)
def read_for_editing(
    post: EditablePost, writer: PostsWriter, session: SessionDep, response: Response
) -> PostForEditing:
    autosave = service.newer_autosave(session, post=post, user=writer)
    response.headers["Cache-Control"] = NO_STORE
    read = _read(session, post, writer, PostForEditing)
    return read.model_copy(
        update={"autosave": AutosaveRead.model_validate(autosave) if autosave else None}
    )
