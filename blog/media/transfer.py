"""Media files in a blog's export (``blog export --with-media``) and back into storage on
import. The rows move with the rest of the blog (:mod:`blog.tenants.transfer`)."""

import base64
import binascii
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from blog.media.models import Media
from blog.media.storage import InvalidStorageKey, Storage, check_key, rekey
from blog.tenants.exceptions import InvalidExport
from blog.tenants.transfer import TABLES, Exported, MediaFileData, TenantExport


def attach_files(session: Session, data: TenantExport, storage: Storage) -> int:
    """Put the files of the blog's media into ``data`` (the session bound to the blog);
    the number missing from storage (their rows move without them)."""
    files: list[MediaFileData] = []
    missing = 0
    for media in session.exec(select(Media).order_by(Media.id)):  # type: ignore[arg-type]
        for file in media.files:
            try:
                content = storage.get(file["key"])
            except KeyError:
                missing += 1
                continue
            files.append(
                MediaFileData(
                    key=file["key"],
                    content_type=file["content_type"],
                    data=base64.b64encode(content).decode("ascii"),
                )
            )
    data.media_files = files
    return missing


@dataclass(frozen=True, slots=True)
class Stored:
    written: int  # files put into storage
    missing: int  # files named by a row that are in neither the file nor the storage


def store_files(data: TenantExport, storage: Storage, *, tenant_id: uuid.UUID) -> Stored:
    """Put the media files of an imported blog into storage, under its keys: from the
    export file when it holds them (``--with-media``), else copied from the exported
    blog's keys in this storage when the blog got a new id (a copy next to its
    original); a file held by neither is counted as missing."""
    wanted = {
        file["key"]: file["content_type"]
        for media in data.rows(_media_table())
        for file in getattr(media, "files")  # noqa: B009 - a made model's field
    }
    if foreign := [key for key in wanted if not key.startswith(f"{data.tenant_id}/")]:
        raise InvalidExport(f"a media file key names another blog: {foreign[0]!r}")
    held = {blob.key: blob for blob in data.media_files or []}
    if unknown := set(held) - set(wanted):
        raise InvalidExport(f"media_files holds {len(unknown)} file(s) no media names")
    written = missing = 0
    for key, content_type in wanted.items():
        target = rekey(key, tenant_id)
        try:
            content = _decode(held[key]) if key in held else None
            if content is None and target != key:
                content = storage.get(check_key(key))
        except KeyError:
            content = None
        except InvalidStorageKey as exc:
            raise InvalidExport(str(exc)) from exc
        if content is None:
            if target != key or data.media_files is not None:
                missing += 1
            continue
        storage.put(target, content, content_type)
        written += 1
    return Stored(written=written, missing=missing)


def _decode(blob: MediaFileData) -> bytes:
    try:
        return base64.b64decode(blob.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidExport(f"media_files: the data of {blob.key} is not base64") from exc


def _media_table() -> Exported:
    return next(table for table in TABLES if table.model is Media)
