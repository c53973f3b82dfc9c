"""Serving the local storage's files at ``BLOG_MEDIA_URL`` (``make run`` needs no web
server): immutable, as a key's bytes never change, and only with image types."""

import os
import re
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from blog.media.images import CONTENT_TYPES
from blog.settings import Settings

IMMUTABLE = "public, max-age=31536000, immutable"
# The path of a media upload, whose body may exceed BLOG_MAX_BODY_BYTES.
UPLOAD_PATH = re.compile(r"/api/v1/tenants/[^/]+/media/?")
# Room for a multipart form's boundaries and fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


class MediaFiles(StaticFiles):
    """Static files with long-lived caching and a type decided by the key's extension
    (every stored file is a re-encoded image of that type); nothing else is served."""

    async def check_config(self) -> None:
        """A root not made yet (no upload so far) serves nothing: 404s, not errors."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Any,
        status_code: int = 200,
    ) -> Response:
        content_type = CONTENT_TYPES.get(Path(full_path).suffix.lstrip("."))
        if content_type is None:
            return Response(status_code=404)
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, media_type=content_type
        )
        response.headers["Cache-Control"] = IMMUTABLE
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return Response(status_code=304, headers={"Cache-Control": IMMUTABLE})
        return response


def served_locally(settings: Settings) -> bool:
    """Whether the app serves the files itself: local storage reached at a path."""
    return settings.media_storage == "local" and settings.media_url.startswith("/")


def media_files(settings: Settings) -> MediaFiles:
    # The root is made by the first upload: an app that never stores a file makes none.
    return MediaFiles(directory=Path(settings.media_root), check_dir=False)


def upload_limit(settings: Settings) -> Any:
    """``BodySizeLimit``'s ``larger_for``: uploads may be as large as a media file."""
    limit = settings.media_max_bytes + FORM_OVERHEAD_BYTES

    def larger_for(path: str) -> int | None:
        return limit if UPLOAD_PATH.fullmatch(path) else None

    return larger_for
