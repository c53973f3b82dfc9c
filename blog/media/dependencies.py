"""The storage of the app, and the media in a path (loaded after the caller is checked)."""

import os
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from blog.auth.dependencies import AuthorUser
from blog.database import SessionDep, lookup
from blog.media import service
from blog.media.models import Media
from blog.media.storage import Storage


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.media_storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


async def get_media(_writer: AuthorUser, media_id: uuid.UUID, session: SessionDep) -> Media:
    """The media in the path, to a writer of its blog (404 in any other blog)."""
    return await lookup(session, service.get_media, media_id=media_id)


PathMedia = Annotated[Media, Depends(get_media)]


async def get_media_for_edit(media: PathMedia, writer: AuthorUser) -> Media:
    """The media in the path, to its uploader or an editor and above (403 otherwise)."""
    service.ensure_can_change(writer, media)
    return media


MediaForEdit = Annotated[Media, Depends(get_media_for_edit)]


async def _image_work_slot() -> AsyncIterator[None]:
    yield


# Decoding and resizing are CPU-bound (a 12 Mpx photo: ~1.5 s): more at once than cores
# only queue inside threads. Uploads beyond this wait on the event loop, holding no worker
# thread, so other requests keep flowing during a burst of uploads.
IMAGE_WORK = Depends(
    _image_work_slot, scope="function", max_concurrency=max(1, os.cpu_count() or 1)
)
