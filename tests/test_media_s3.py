"""Uploads through the HTTP API into a real S3-compatible server (moto's, on loopback):
the files land in the blog's bucket with their type and immutable caching, the answer's
URLs point at them, a delete removes them, and a bucket that is gone is a 503 that keeps
nothing."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from PIL import Image

from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.problems import assert_problem
from tests.s3 import S3Server

AuthHeaders = Callable[[User], dict[str, str]]


@pytest.fixture
def settings(settings: Settings, s3_server: S3Server, s3_bucket: str) -> Settings:
    return settings.model_copy(
        update={
            "media_storage": "s3",
            "media_s3_bucket": s3_bucket,
            "media_s3_endpoint_url": s3_server.endpoint_url,
            "media_s3_region": "us-east-1",
        }
    )


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (900, 300), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def key_of(url: str, s3_server: S3Server, bucket: str) -> str:
    prefix = f"{s3_server.endpoint_url}/{bucket}/"
    assert url.startswith(prefix), url
    return url.removeprefix(prefix)


def upload(client: TestClient, tenant: Tenant, headers: dict[str, str]) -> Any:
    return client.post(
        tenant_path(tenant, "/media"),
        files={"file": ("p.png", png(), "image/png")},
        headers=headers,
    )


def test_an_upload_lands_in_the_bucket_and_its_delete_removes_it(
    client: TestClient,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: AuthHeaders,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    headers = auth_headers(user(role=Role.author))

    response = upload(client, tenant, headers)

    assert response.status_code == 201, response.text
    body = response.json()
    keys = {file["name"]: key_of(file["url"], s3_server, s3_bucket) for file in body["files"]}
    assert set(keys) == {"original", "original-webp", "w400", "w400-webp", "w800", "w800-webp"}
    for file in body["files"]:
        stored = s3_server.client.get_object(Bucket=s3_bucket, Key=keys[file["name"]])
        assert stored["ContentType"] == file["content_type"]
        assert stored["CacheControl"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(stored["Body"].read()))
        assert image.size == (file["width"], file["height"])
    assert all(key.startswith(f"{tenant.id}/") for key in keys.values())

    deleted = client.delete(tenant_path(tenant, f"/media/{body['id']}"), headers=headers)

    assert deleted.status_code == 204
    for key in keys.values():
        with pytest.raises(ClientError):
            s3_server.client.head_object(Bucket=s3_bucket, Key=key)


def test_a_bucket_that_is_gone_is_a_503_and_keeps_nothing(
    client: TestClient,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: AuthHeaders,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    headers = auth_headers(user(role=Role.author))
    s3_server.client.delete_bucket(Bucket=s3_bucket)

    response = upload(client, tenant, headers)

    assert_problem(response, 503, "storage_unavailable")
    assert s3_bucket not in response.text  # the cause is logged, never answered
    listed = client.get(tenant_path(tenant, "/media"), headers=headers)
    assert listed.json()["total"] == 0
