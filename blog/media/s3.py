"""Media files in an S3 bucket: AWS S3 or any S3-compatible server (MinIO, Ceph, Garage,
Cloudflare R2...), chosen with ``BLOG_MEDIA_STORAGE=s3``.

Readers fetch the files from the bucket (or a CDN in front of it, ``public_url``), never
through this API: objects are written with a year-long, immutable ``Cache-Control``, which
is right because media keys are content-hashed (a changed file gets a new key).

Credentials come from boto3's usual chain: ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``), a profile, or an instance role.
Whatever S3 answers that is not a missing key (no such bucket, access denied, bad
credentials, unreachable, timed out) becomes :class:`StorageUnavailable`: a 503 whose
cause is logged, never returned.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from blog.media.exceptions import StorageUnavailable
from blog.media.storage import check_key
from blog.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=31536000, immutable"
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def s3_client(
    *, endpoint_url: str | None = None, region: str | None = None, attempts: int = 3
) -> "S3Client":
    """An S3 client with bounded waits: 5 s to connect, 30 s per read, ``attempts`` tries.

    With an ``endpoint_url`` (an S3-compatible server), buckets are addressed by path
    (``http://host/bucket/key``: no wildcard DNS needed), and checksums are sent and checked
    only where the API requires them (boto3 >= 1.36 sends new ones by default that several
    S3-compatible servers refuse).
    """
    compatible = endpoint_url is not None
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "total_max_attempts": attempts},
        # As many as the threads that serve sync routes (anyio's default limit), so none
        # waits for a connection or drops one.
        max_pool_connections=40,
        s3={"addressing_style": "path"} if compatible else None,
        request_checksum_calculation="when_required" if compatible else "when_supported",
        response_checksum_validation="when_required" if compatible else "when_supported",
    )
    # A session of its own: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


class S3Storage:
    """The :class:`blog.media.storage.Storage` of a bucket. Safe to share between threads."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        public_url: str | None = None,
        client: "S3Client | None" = None,
    ) -> None:
        self.bucket = bucket
        self._client = client or s3_client(endpoint_url=endpoint_url, region=region)
        self._base_url = _base_url(
            bucket,
            public_url=public_url,
            endpoint_url=endpoint_url,
            region=self._client.meta.region_name,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Storage":
        """The storage ``BLOG_MEDIA_S3_*`` describe."""
        if not settings.media_s3_bucket:
            raise ValueError("BLOG_MEDIA_STORAGE=s3 needs BLOG_MEDIA_S3_BUCKET")
        return cls(
            settings.media_s3_bucket,
            endpoint_url=settings.media_s3_endpoint_url,
            region=settings.media_s3_region,
            public_url=settings.media_s3_public_url,
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        check_key(key)
        with self._calling("PutObject"):
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
            )

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`KeyError` if there is none.

        S3 says a key is missing only to credentials that may list the bucket
        (``s3:ListBucket``); to others it answers AccessDenied, taken as unavailable.
        """
        check_key(key)
        with self._calling("GetObject"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in _MISSING_KEY_CODES:
                    raise KeyError(key) from None
                raise
            return response["Body"].read()

    def delete(self, key: str) -> None:
        """Delete the object; a missing one is not an error (S3 answers 204 either way)."""
        check_key(key)
        with self._calling("DeleteObject"):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def url(self, key: str) -> str:
        return f"{self._base_url}/{check_key(key)}"

    def check(self) -> None:
        """Raise :class:`StorageUnavailable` unless the bucket is there and these
        credentials reach it (for readiness probes and start-up checks)."""
        with self._calling("HeadBucket"):
            self._client.head_bucket(Bucket=self.bucket)

    @contextmanager
    def _calling(self, operation: str) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            # The code and status, not the message: some servers echo request details.
            cause = (
                f"{_error_code(exc)} (HTTP {_http_status(exc)})"
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            logger.error(
                "media storage: S3 %s on bucket %s at %s failed: %s",
                operation,
                self.bucket,
                self._client.meta.endpoint_url,
                cause,
            )
            raise StorageUnavailable() from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


def _http_status(exc: ClientError) -> str:
    return str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))


def _base_url(bucket: str, *, public_url: str | None, endpoint_url: str | None, region: str) -> str:
    """Where the bucket's objects are read from outside, without the trailing slash."""
    if public_url:
        return public_url.rstrip("/")
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}"
    if "." in bucket:
        # AWS's certificate covers one label before .s3.…: a dotted bucket goes in the path.
        return f"https://s3.{region}.amazonaws.com/{bucket}"
    return f"https://{bucket}.s3.{region}.amazonaws.com"
