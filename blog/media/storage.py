"""Where media files live, behind one interface: a local directory (the embedded default,
served by the app itself at ``BLOG_MEDIA_URL``) or an S3-compatible bucket.

A key reads ``{tenant_id}/{sha256}/{variant}.{ext}``: content-hashed, so a file's URL
cannot be guessed without its bytes, and a file never changes under its URL (it is
served as immutable).
"""

import os
import re
import tempfile
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from blog.settings import Settings

# One segment of a key: no "/", "\\", "%" or other character a path or URL would read
# specially, and not "." or "..".
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
MAX_KEY_LENGTH = 1024  # S3's own limit, in bytes (keys here are ASCII)


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...  # raises KeyError if missing
    def delete(self, key: str) -> None: ...  # missing is fine
    def url(self, key: str) -> str: ...  # public URL of the object


class InvalidStorageKey(ValueError):
    """A key that is not plain segments joined by "/" (a programming error or an attack:
    it could name a file outside the storage root)."""


def media_key(tenant_id: object, digest: str, variant: str, ext: str) -> str:
    """The key of one file of one upload."""
    return f"{tenant_id}/{digest}/{variant}.{ext}"


def rekey(key: str, tenant_id: object) -> str:
    """``key`` of another blog's upload, made ``tenant_id``'s (a blog imported under a new
    id)."""
    _tenant, rest = check_key(key).split("/", 1)
    return f"{tenant_id}/{rest}"


def check_key(key: str) -> str:
    """``key`` if every segment is plain (no traversal, no absolute path, no encoding) and
    it is no longer than S3 allows; else :class:`InvalidStorageKey`. Every backend checks
    its keys with this."""
    segments = key.split("/")
    if (
        not key
        or len(key) > MAX_KEY_LENGTH
        or not all(_SEGMENT.fullmatch(part) for part in segments)
    ):
        raise InvalidStorageKey(f"not a valid storage key: {key[:100]!r}")
    return key


class LocalStorage:
    """Files under ``root``; their URLs under ``base_url`` (``/media``: served by the app)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")

    def path(self, key: str) -> Path:
        """The file of ``key``, refused if it would lie outside the root."""
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidStorageKey(f"not a valid storage key: {key[:100]!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:  # noqa: ARG002 - served by its extension
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a file.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Empty directories of the upload go too (best effort: another may be writing).
        for parent in (path.parent, path.parent.parent):
            if parent == self.root:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def url(self, key: str) -> str:
        return f"{self.base_url}/{check_key(key)}"


def storage_from_settings(settings: "Settings") -> Storage:
    """The backend ``BLOG_MEDIA_STORAGE`` names (``s3`` is imported only when used)."""
    if settings.media_storage == "s3":
        module = import_module("blog.media.s3")  # boto3 is needed only here
        storage: Storage = module.S3Storage.from_settings(settings)
        return storage
    return LocalStorage(Path(settings.media_root), settings.media_url)
