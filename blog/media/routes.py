"""A blog's media library: uploads by its writers, listed, described and deleted."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, status

from blog.auth.dependencies import AuthorUser
from blog.database import SessionDep
from blog.dependencies import SettingsDep
from blog.errors import responses
from blog.media import service
from blog.media.dependencies import IMAGE_WORK, MediaForEdit, PathMedia, StorageDep
from blog.media.schemas import MediaPage, MediaRead, MediaUpdate, MediaUpload
from blog.pagination import PAGE_HEADERS, PageDep, PageHeadersDep
from blog.tenants.dependencies import TenantDep

router = APIRouter(prefix="/media", tags=["media"])


# Plain ``def`` routes: FastAPI runs them in the thread pool, so decoding and resizing
# never hold the event loop.
@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IMAGE_WORK],
    responses=responses(400, 401, 403, 413, 415, 422),
    summary="Upload an image (authors and above): JPEG, PNG, WebP or GIF",
)
def upload_media(
    form: Annotated[MediaUpload, Form(media_type="multipart/form-data")],
    tenant: TenantDep,
    writer: AuthorUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> MediaRead:
    """Stored without its metadata (EXIF, GPS), upright, with variants 400, 800 and 1600
    px wide (those narrower than the original) and a WebP of each. 413 over the size
    limit or the blog's quota, 415 for anything but an accepted image, 422 over the pixel
    limit."""
    data = form.file.file.read(settings.media_max_bytes + 1)
    media = service.upload(
        session,
        tenant=tenant,
        uploader=writer,
        storage=storage,
        data=data,
        alt=form.alt,
        purpose=form.purpose,
        max_bytes=settings.media_max_bytes,
        max_pixels=settings.media_max_pixels,
        quota_mb=settings.media_quota_mb,
    )
    return service.to_read(media, storage)


@router.get(
    "",
    responses=responses(401, 403) | PAGE_HEADERS,
    summary="The blog's media library, newest first (authors and above)",
)
def list_media(
    _writer: AuthorUser,
    session: SessionDep,
    storage: StorageDep,
    page: PageDep,
    headers: PageHeadersDep,
) -> MediaPage:
    items, total = service.list_media(session, params=page)
    return headers(MediaPage.of([service.to_read(item, storage) for item in items], total, page))


@router.get(
    "/{media_id}",
    responses=responses(401, 403, 404),
    summary="A media's metadata (authors and above)",
)
def read_media(media: PathMedia, storage: StorageDep) -> MediaRead:
    return service.to_read(media, storage)


@router.patch(
    "/{media_id}",
    responses=responses(400, 401, 403, 404, 413, 422),
    summary="Change a media's alt text (its uploader, editors and above)",
)
def update_media(
    media: MediaForEdit, data: MediaUpdate, session: SessionDep, storage: StorageDep
) -> MediaRead:
    return service.to_read(service.update_alt(session, media=media, alt=data.alt), storage)


@router.delete(
    "/{media_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 409),
    summary="Delete a media and its files (its uploader, editors and above; 409 while used)",
)
def delete_media(
    media: MediaForEdit, session: SessionDep, storage: StorageDep, background: BackgroundTasks
) -> None:
    """Refused with 409 `media_in_use` while a post's body or description holds one of its
    URLs. The files go once the deletion is committed."""
    keys = service.delete_media(session, media=media)
    background.add_task(service.delete_files, storage, keys)
