"""The S3 media storage against a real S3-compatible server on loopback (moto's server mode):
files go in and come back, readers get them with their type and a year's caching, keys
cannot climb out of the key space, and S3's failures are a clear 503, not a 500."""

import json
import logging
import socket

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from blog.errors import install_error_handlers
from blog.media.exceptions import StorageUnavailable
from blog.media.s3 import S3Storage, s3_client
from blog.media.storage import InvalidStorageKey, Storage
from blog.problem_types import catalogue
from blog.settings import Settings
from tests.s3 import S3Server

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
KEY = "0f/3a/0f3a9c2e5b7d41a6-800.webp"


@pytest.fixture
def storage(s3_server: S3Server, s3_bucket: str) -> S3Storage:
    return S3Storage(s3_bucket, endpoint_url=s3_server.endpoint_url, client=s3_server.client)


def stored_keys(s3_server: S3Server, bucket: str) -> list[str]:
    listing = s3_server.client.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def unreachable_endpoint() -> str:
    """The address of a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_put_get_delete_round_trip(storage: S3Storage) -> None:
    stored: Storage = storage  # the interface the media service uses

    stored.put(KEY, PNG, "image/png")
    assert stored.get(KEY) == PNG

    stored.delete(KEY)
    with pytest.raises(KeyError):
        stored.get(KEY)


def public_read_policy(bucket: str) -> str:
    """The bucket policy the README gives: anyone may read objects, nobody may list them."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadMedia",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


def test_objects_are_private_without_a_public_read_policy(storage: S3Storage) -> None:
    storage.put(KEY, PNG, "image/png")

    assert httpx.get(storage.url(KEY)).status_code == 403


def test_readers_fetch_the_url_with_its_type_and_a_years_caching(
    storage: S3Storage, s3_server: S3Server
) -> None:
    s3_server.client.put_bucket_policy(
        Bucket=storage.bucket, Policy=public_read_policy(storage.bucket)
    )
    storage.put(KEY, PNG, "image/webp")

    response = httpx.get(storage.url(KEY))

    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_put_replaces_an_object(storage: S3Storage) -> None:
    storage.put(KEY, b"first", "image/png")
    storage.put(KEY, PNG, "image/png")

    assert storage.get(KEY) == PNG


def test_a_missing_key_is_a_key_error(storage: S3Storage) -> None:
    with pytest.raises(KeyError):
        storage.get("never/put.png")


def test_deleting_a_missing_key_is_fine(storage: S3Storage, s3_server: S3Server) -> None:
    storage.put(KEY, PNG, "image/png")

    storage.delete("never/put.png")

    assert stored_keys(s3_server, storage.bucket) == [KEY]


def test_the_url_is_under_the_public_url_when_given(s3_server: S3Server, s3_bucket: str) -> None:
    storage = S3Storage(
        s3_bucket,
        endpoint_url=s3_server.endpoint_url,
        public_url="https://cdn.example/media/",
        client=s3_server.client,
    )

    assert storage.url(KEY) == f"https://cdn.example/media/{KEY}"


@pytest.mark.parametrize(
    ("bucket", "region", "base"),
    [
        ("blog-media", "eu-west-3", "https://blog-media.s3.eu-west-3.amazonaws.com"),
        # A dotted name is not covered by AWS's wildcard certificate: it goes in the path.
        (
            "media.blog.example",
            "us-east-1",
            "https://s3.us-east-1.amazonaws.com/media.blog.example",
        ),
    ],
)
def test_the_url_on_aws_is_the_buckets_own(bucket: str, region: str, base: str) -> None:
    storage = S3Storage(bucket, region=region)  # makes the client only: no request

    assert storage.url(KEY) == f"{base}/{KEY}"


@pytest.mark.parametrize(
    "key",
    [
        "../outside.png",
        "a/../../outside.png",
        "/etc/passwd",
        "a//b.png",
        "a/./b.png",
        ".hidden",
        "a/",
        "",
        "a b.png",
        "a\\b.png",
        "a?b.png",
        "%2e%2e/outside.png",
        "caf\u00e9.png",
        "a\x00b.png",
        "x" * 1025,
    ],
)
def test_keys_outside_the_media_form_are_refused(
    storage: S3Storage, s3_server: S3Server, key: str
) -> None:
    with pytest.raises(InvalidStorageKey):
        storage.put(key, PNG, "image/png")
    for use in (storage.get, storage.delete, storage.url):
        with pytest.raises(InvalidStorageKey):
            use(key)

    assert stored_keys(s3_server, storage.bucket) == []


@pytest.mark.parametrize("key", ["a", "ab/cd/0123abcd.webp", "A_b-c.d/e.f.png", "x" * 1024])
def test_keys_of_the_media_form_are_stored(storage: S3Storage, key: str) -> None:
    storage.put(key, PNG, "image/png")

    assert storage.get(key) == PNG


def test_a_missing_bucket_is_unavailable_storage_not_a_missing_key(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    storage = S3Storage(
        "blog-no-such-bucket", endpoint_url=s3_server.endpoint_url, client=s3_server.client
    )

    with pytest.raises(StorageUnavailable):
        storage.put(KEY, PNG, "image/png")
    with pytest.raises(StorageUnavailable):
        storage.get(KEY)
    with pytest.raises(StorageUnavailable):
        storage.delete(KEY)
    with pytest.raises(StorageUnavailable):
        storage.check()

    assert "NoSuchBucket" in caplog.text  # the operator learns why
    assert "blog-no-such-bucket" in caplog.text


def test_an_unreachable_endpoint_is_unavailable_storage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = unreachable_endpoint()
    storage = S3Storage("blog-media", client=s3_client(endpoint_url=endpoint, attempts=1))

    for call in (
        lambda: storage.put(KEY, PNG, "image/png"),
        lambda: storage.get(KEY),
        lambda: storage.delete(KEY),
        storage.check,
    ):
        with pytest.raises(StorageUnavailable):
            call()

    assert "EndpointConnectionError" in caplog.text
    assert endpoint in caplog.text


def test_check_passes_on_a_reachable_bucket(storage: S3Storage) -> None:
    storage.check()


def test_unavailable_storage_answers_503_problem_without_the_cause(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    storage = S3Storage(
        "blog-no-such-bucket", endpoint_url=s3_server.endpoint_url, client=s3_server.client
    )
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/upload")
    def upload() -> None:
        storage.put(KEY, PNG, "image/png")

    with caplog.at_level(logging.ERROR):
        response = TestClient(app, raise_server_exceptions=False).post("/upload")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "storage_unavailable"
    assert problem["type"] == "/problems/storage_unavailable"
    assert catalogue()["storage_unavailable"][0] == 503  # its type has a page
    assert "NoSuchBucket" not in response.text
    assert "blog-no-such-bucket" not in response.text
    assert "unhandled error" not in caplog.text  # answered as what it is, not as a 500


def test_settings_build_the_storage(s3_server: S3Server, s3_bucket: str) -> None:
    settings = Settings(
        _env_file=None,
        media_storage="s3",
        media_s3_bucket=s3_bucket,
        media_s3_endpoint_url=s3_server.endpoint_url,
        media_s3_region="",
        media_s3_public_url="",
    )
    storage = S3Storage.from_settings(settings)

    storage.put(KEY, PNG, "image/png")

    assert storage.url(KEY) == f"{s3_server.endpoint_url}/{s3_bucket}/{KEY}"
    assert storage.get(KEY) == PNG


def test_s3_storage_needs_a_bucket_setting() -> None:
    with pytest.raises(ValidationError, match="BLOG_MEDIA_S3_BUCKET"):
        Settings(_env_file=None, media_storage="s3", media_s3_bucket="")
