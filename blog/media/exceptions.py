from fastapi import status

from blog.errors import BlogError, Conflict, Forbidden, InvalidInput, NotFound


class MediaNotFound(NotFound):
    code = "media_not_found"
    detail = "No such media."


class UnsupportedMediaType(BlogError):
    status_code = 415
    code = "unsupported_media_type"
    detail = "Only JPEG, PNG, WebP and GIF images are accepted (judged by the file's content)."


class MediaTooLarge(BlogError):
    status_code = 413
    code = "media_too_large"
    detail = "The file is larger than uploads may be."


class MediaQuotaExceeded(BlogError):
    status_code = 413
    code = "media_quota_exceeded"
    detail = "The blog's media storage is full: delete some media first."


class TooManyPixels(InvalidInput):
    code = "image_too_many_pixels"
    detail = "The image has more pixels than allowed."


class MediaInUse(Conflict):
    code = "media_in_use"
    detail = "A post still uses this media: remove it from the post first."


class NotYourMedia(Forbidden):
    code = "not_your_media"
    detail = "Only its uploader and editors may change or delete this media."


class StorageUnavailable(BlogError):
    """The media storage refused or did not answer (unreachable, no such bucket, access
    denied): an operator's problem, not the client's; its cause is logged, never returned."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "storage_unavailable"
    detail = "The media storage is unavailable; try again shortly."
