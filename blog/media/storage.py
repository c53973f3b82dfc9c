"""Where media files live, behind one interface.

A stub with just the interface, so the S3 backend (:mod:`blog.media.s3`) type-checks on its
own; the media branch's version of this file replaces it.
"""

from typing import Protocol


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...  # raises KeyError if missing
    def delete(self, key: str) -> None: ...  # missing is fine
    def url(self, key: str) -> str: ...  # public URL of the object
