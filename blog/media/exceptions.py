from fastapi import status

from blog.errors import BlogError


class StorageUnavailable(BlogError):
    """The media storage refused or did not answer (unreachable, no such bucket, access
    denied): an operator's problem, not the client's; its cause is logged, never returned."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "storage_unavailable"
    detail = "The media storage is unavailable; try again shortly."
