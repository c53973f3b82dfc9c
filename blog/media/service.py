"""Uploading, listing, describing and deleting a blog's media.

Files are written to storage before the row is committed (a failed commit leaves
unreferenced files behind, harmless: their keys are content hashes nobody knows) and
deleted only after the row's deletion is committed (:func:`delete_media` returns the
keys for the caller to delete then).
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from blog.media import images
from blog.media.exceptions import (
    MediaInUse,
    MediaNotFound,
    MediaQuotaExceeded,
    MediaTooLarge,
    NotYourMedia,
    TooManyPixels,
    UnsupportedMediaType,
)
from blog.media.models import Media, MediaPurpose
from blog.media.schemas import MediaFile, MediaRead
from blog.media.storage import Storage, media_key
from blog.pagination import PageParams, fetch_page
from blog.posts.models import Post
from blog.tenants.models import Tenant
from blog.users.models import Role, User

MB = 1024 * 1024


def upload(
    session: Session,
    *,
    tenant: Tenant,
    uploader: User,
    storage: Storage,
    data: bytes,
    alt: str = "",
    purpose: MediaPurpose = MediaPurpose.post,
    max_bytes: int,
    max_pixels: int,
    quota_mb: int,
) -> Media:
    """Check, re-encode and store an image and its variants (see :mod:`blog.media.images`;
    CPU-heavy: call it from a thread). ``quota_mb`` 0: no quota."""
    if len(data) > max_bytes:
        raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
    try:
        processed = images.process(data, max_pixels=max_pixels)
    except images.TooManyPixels as exc:
        raise TooManyPixels(
            f"The image has more than {max_pixels} pixels (width x height)."
        ) from exc
    except images.NotAnImage as exc:
        raise UnsupportedMediaType() from exc
    total = sum(len(rendition.data) for rendition in processed.renditions)
    files, keys = [], []
    for rendition in processed.renditions:
        key = media_key(tenant.id, processed.digest, rendition.variant, rendition.ext)
        keys.append(key)
        files.append(
            {
                "name": rendition.name,
                "key": key,
                "content_type": rendition.content_type,
                "width": rendition.width,
                "height": rendition.height,
                "bytes": len(rendition.data),
            }
        )
    media = Media(
        tenant_id=tenant.id,
        uploaded_by=uploader.id,
        purpose=purpose,
        content_type=processed.format.content_type,
        width=processed.width,
        height=processed.height,
        bytes=total,
        alt=alt,
        sha256=processed.digest,
        files=files,
    )
    session.add(media)
    if quota_mb:
        _take_quota(session, tenant=tenant, quota_mb=quota_mb)
    session.flush()
    for rendition, key in zip(processed.renditions, keys, strict=True):
        storage.put(key, rendition.data, rendition.content_type)
    return media


def _take_quota(session: Session, *, tenant: Tenant, quota_mb: int) -> None:
    """Refuse the upload being added if the blog's media would pass ``quota_mb``.

    One upload of a blog at a time gets here, so two at once cannot both fit: PostgreSQL
    locks the blog's row until the upload commits (before its row goes in); on SQLite the
    flush, the transaction's first write, takes the database's write lock (``BEGIN
    IMMEDIATE``) for as long. The sum, made after, sees every upload committed before and
    this one.
    """
    with session.no_autoflush:  # locked before the upload's row goes in
        # NO KEY UPDATE: the row's foreign-key checks (KEY SHARE) do not wait on it.
        session.exec(
            select(Tenant.id)
            .where(col(Tenant.id) == tenant.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        ).one()
    session.flush()
    if used_bytes(session) > quota_mb * MB:
        raise MediaQuotaExceeded(
            f"The blog's media would take more than its quota of {quota_mb} MB."
        )


def used_bytes(session: Session) -> int:
    """What the blog's media take in storage, all files counted."""
    return int(session.exec(select(func.coalesce(func.sum(Media.bytes), 0))).one())


def list_media(session: Session, *, params: PageParams) -> tuple[Sequence[Media], int]:
    """One page of the blog's media, newest first."""
    query = select(Media).order_by(col(Media.created_at).desc(), col(Media.id).desc())
    return fetch_page(session, query, params)


def get_media(session: Session, *, media_id: uuid.UUID) -> Media:
    media = session.exec(select(Media).where(col(Media.id) == media_id)).first()
    if media is None:
        raise MediaNotFound()
    return media


def ensure_can_change(user: User, media: Media) -> None:
    """Its uploader and editors (and above) may change or delete a media."""
    if media.uploaded_by != user.id and not user.role.at_least(Role.editor):
        raise NotYourMedia()


def update_alt(session: Session, *, media: Media, alt: str) -> Media:
    media.alt = alt
    session.add(media)
    session.flush()
    return media


def marker(media: Media) -> str:
    """The part every URL of the media's files holds, whatever the storage's base URL."""
    return f"{media.tenant_id}/{media.sha256}/"


def in_use(session: Session, *, media: Media) -> bool:
    """Whether a post of the blog (any status) names one of the media's files."""
    found = marker(media)
    query = select(Post.id).where(
        or_(col(Post.body).contains(found), col(Post.description).contains(found))
    )
    return session.exec(query.limit(1)).first() is not None


def delete_media(session: Session, *, media: Media) -> list[str]:
    """Delete the row, refused (409) while a post uses it; the keys of the files to delete
    from storage once that is committed (none while another upload of the same bytes
    still holds them)."""
    if in_use(session, media=media):
        raise MediaInUse()
    session.delete(media)
    session.flush()
    same_bytes = select(Media.id).where(col(Media.sha256) == media.sha256)
    if session.exec(same_bytes.limit(1)).first() is not None:
        return []
    return [file["key"] for file in media.files]


def all_keys(session: Session) -> list[str]:
    """The keys of every file of the blog's media (to remove with the blog)."""
    return sorted({file["key"] for media in session.exec(select(Media)) for file in media.files})


def delete_files(storage: Storage, keys: Sequence[str]) -> None:
    """Remove committed deletions' files (a missing one is fine)."""
    for key in keys:
        storage.delete(key)


def detach_uploader(session: Session, *, user: User) -> None:
    """Keep a departing member's uploads (posts may show them), without an uploader."""
    session.execute(
        sa.update(Media).where(col(Media.uploaded_by) == user.id).values(uploaded_by=None),
        execution_options={"synchronize_session": False},
    )


def to_read(media: Media, storage: Storage) -> MediaRead:
    """The API's view of ``media``, with its files' URLs."""
    files = [
        MediaFile(
            name=file["name"],
            url=storage.url(file["key"]),
            content_type=file["content_type"],
            width=file["width"],
            height=file["height"],
            bytes=file["bytes"],
        )
        for file in media.files
    ]
    return MediaRead(
        id=media.id,
        purpose=media.purpose,
        url=files[0].url,
        content_type=media.content_type,
        width=media.width,
        height=media.height,
        bytes=media.bytes,
        alt=media.alt,
        uploaded_by=media.uploaded_by,
        created_at=media.created_at,
        files=files,
    )
