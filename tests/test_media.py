"""Media through the HTTP API: uploads judged by their content, stripped of metadata,
upright, with variants; served by the app with immutable caching; a library per blog
(list, alt text, delete) with a quota, refused to other blogs; the local storage's keys
kept inside its root."""

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from blog.media.storage import InvalidStorageKey, LocalStorage
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.factories import MediaFactory, PostFactory
from tests.problems import assert_problem

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
MAX_BYTES = 300_000
MAX_BODY_BYTES = 100_000  # every other route's limit: smaller than an upload's here
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"media_max_bytes": MAX_BYTES, "max_body_bytes": MAX_BODY_BYTES}
    )


@pytest.fixture
def author(user: UserMaker) -> User:
    return user(role=Role.author)


def image_bytes(
    format_: str, size: tuple[int, int] = (1000, 500), exif: Image.Exif | None = None
) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    buffer = io.BytesIO()
    image.save(buffer, format_, **({"exif": exif.tobytes()} if exif else {}))
    return buffer.getvalue()


def upload(
    client: TestClient,
    tenant: Tenant,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "picture.png",
    content_type: str = "image/png",
    **form: str,
) -> httpx.Response:
    return client.post(
        tenant_path(tenant, "/media"),
        files={"file": (name, data, content_type)},
        data=form,
        headers=headers,
    )


def uploaded(
    client: TestClient, tenant: Tenant, headers: dict[str, str], data: bytes, **form: str
) -> dict[str, Any]:
    response = upload(client, tenant, headers, data, **form)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fetch(client: TestClient, url: str) -> httpx.Response:
    response = client.get(url)
    assert response.status_code == 200, url
    return response


@pytest.mark.parametrize(
    ("format_", "content_type", "ext"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
def test_each_accepted_type_is_stored_with_its_variants(
    client: TestClient,
    tenant: Tenant,
    author: User,
    auth_headers: AuthHeaders,
    format_: str,
    content_type: str,
    ext: str,
) -> None:
    # Named and declared as something else: the content decides.
    body = uploaded(
        client,
        tenant,
        auth_headers(author),
        image_bytes(format_),
        name="x.txt",
        content_type="text/plain",
        alt="a red and blue flag",
    )
    assert body["content_type"] == content_type
    assert (body["width"], body["height"]) == (1000, 500)
    assert body["alt"] == "a red and blue flag"
    assert body["uploaded_by"] == str(author.id)
    files = {file["name"]: file for file in body["files"]}
    # 400 and 800 wide, not 1600 (wider than the original); a WebP of each.
    expected = {"original", "w400", "w800"}
    if format_ != "WEBP":
        expected |= {f"{name}-webp" for name in expected}
    assert set(files) == expected
    assert body["url"] == files["original"]["url"]
    assert files["original"]["url"].endswith(f"/original.{ext}")
    assert body["bytes"] == sum(file["bytes"] for file in files.values())
    for name, file in files.items():
        response = fetch(client, file["url"])
        assert response.headers["content-type"] == file["content_type"]
        assert len(response.content) == file["bytes"]
        served = Image.open(io.BytesIO(response.content))
        assert served.size == (file["width"], file["height"])
        width = {"w400": 400, "w800": 800}.get(name.removesuffix("-webp"), 1000)
        assert served.size == (width, width // 2)
        expected_format = "WEBP" if name.endswith("-webp") else format_
        if format_ == "GIF" and name in ("w400", "w800"):
            expected_format = "PNG"  # resized GIFs are PNG
        assert served.format == expected_format


def test_files_are_served_immutable_as_images(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    body = uploaded(client, tenant, auth_headers(author), image_bytes("PNG"))
    assert body["url"].startswith(f"/media/{tenant.id}/")
    response = fetch(client, body["url"])
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Content-hashed: the key holds the SHA-256 of the uploaded bytes, not the file name.
    digest = body["url"].split("/")[3]
    assert len(digest) == 64
    assert "picture" not in body["url"]


def test_exif_and_gps_are_stripped(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    original = image_bytes("JPEG", exif=exif)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test is real
    body = uploaded(client, tenant, auth_headers(author), original)
    for file in body["files"]:
        content = fetch(client, file["url"]).content
        stored = Image.open(io.BytesIO(content))
        assert dict(stored.getexif()) == {}
        assert stored.getexif().get_ifd(GPS_IFD) == {}
        assert b"SpyCam" not in content
        assert b"Exif" not in content


def test_orientation_is_applied(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # shown turned 90 degrees clockwise
    body = uploaded(client, tenant, auth_headers(author), image_bytes("JPEG", (600, 300), exif))
    assert (body["width"], body["height"]) == (300, 600)
    stored = Image.open(io.BytesIO(fetch(client, body["url"]).content)).convert("RGB")
    assert stored.size == (300, 600)
    # The blue left half is now on top.
    red, _green, blue = stored.getpixel((150, 50))  # type: ignore[misc]
    assert blue > 150 > red
    assert ORIENTATION not in stored.getexif()


def test_animated_gif_keeps_its_frames_without_variants(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    frames = [Image.new("RGB", (900, 300), color) for color in ("red", "lime", "blue")]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], comment=b"secret comment"
    )
    body = uploaded(client, tenant, auth_headers(author), buffer.getvalue())
    assert [file["name"] for file in body["files"]] == ["original"]
    content = fetch(client, body["url"]).content
    assert getattr(Image.open(io.BytesIO(content)), "n_frames", 1) == 3
    assert b"secret comment" not in content


ELF = b"\x7fELF\x02\x01\x01" + bytes(57) + b"\x90" * 200
PE = b"MZ\x90\x00" + bytes(56) + b"PE\x00\x00" + b"\x90" * 200
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
PNG_HEADER_ONLY = b"\x89PNG\r\n\x1a\n" + b"garbage, not an image"


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (ELF, "innocent.png", "image/png"),
        (PE, "innocent.png", "image/png"),
        (SVG, "drawing.svg", "image/svg+xml"),
        (SVG, "drawing.png", "image/png"),
        (PNG_HEADER_ONLY, "broken.png", "image/png"),
        (image_bytes("BMP", (100, 50)), "bitmap.png", "image/png"),
        (b"", "empty.png", "image/png"),
    ],
    ids=["elf", "pe", "svg", "svg-as-png", "png-magic-only", "bmp", "empty"],
)
def test_anything_but_an_accepted_image_is_415(
    client: TestClient,
    tenant: Tenant,
    author: User,
    auth_headers: AuthHeaders,
    settings: Settings,
    data: bytes,
    name: str,
    content_type: str,
) -> None:
    response = upload(
        client, tenant, auth_headers(author), data, name=name, content_type=content_type
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert not any(Path(settings.media_root).rglob("*.*"))  # nothing stored


def test_an_oversized_file_is_413(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    # Over the upload limit: refused by the route, with the limit in the message...
    over = image_bytes("PNG") + bytes(MAX_BYTES)
    body = assert_problem(
        upload(client, tenant, auth_headers(author), over), 413, "media_too_large"
    )
    assert str(MAX_BYTES) in body["detail"]
    # ...far over it: refused before the body is read.
    assert_problem(
        upload(client, tenant, auth_headers(author), bytes(3 * MAX_BYTES)),
        413,
        "payload_too_large",
    )


def test_only_uploads_take_bodies_past_the_usual_limit(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    noise = io.BytesIO()
    Image.effect_noise((256, 256), 100).convert("RGB").save(noise, "PNG")
    assert MAX_BODY_BYTES < len(noise.getvalue()) < MAX_BYTES
    response = upload(client, tenant, auth_headers(author), noise.getvalue())
    assert response.status_code == 201, response.text
    post = {"title": "Long", "body": "x" * MAX_BODY_BYTES}
    too_long = client.post(tenant_path(tenant, "/posts"), json=post, headers=auth_headers(author))
    assert_problem(too_long, 413, "payload_too_large")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb(width: int, height: int) -> bytes:
    """A small PNG declaring ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [7_000, 100_000])  # over our limit; over Pillow's too
def test_a_pixel_bomb_is_422(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders, side: int
) -> None:
    bomb = pixel_bomb(side, side)
    assert len(bomb) < 200
    response = upload(client, tenant, auth_headers(author), bomb)
    body = assert_problem(response, 422, "image_too_many_pixels")
    assert "40000000 pixels" in body["detail"]


def test_an_animation_counts_the_pixels_of_all_its_frames(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"media_max_pixels": 30_000})
    frames = [Image.new("RGB", (100, 100), color) for color in ("red", "lime", "blue", "red")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    response = upload(client, tenant, auth_headers(author), buffer.getvalue())
    assert_problem(response, 422, "image_too_many_pixels")
    # One frame of them is well within the limit.
    single = io.BytesIO()
    frames[0].save(single, "GIF")
    assert upload(client, tenant, auth_headers(author), single.getvalue()).status_code == 201


def test_readers_and_strangers_may_not_upload(
    client: TestClient, tenant: Tenant, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    assert_problem(upload(client, tenant, {}, image_bytes("PNG")), 401, "invalid_token")
    reader = user(role=Role.reader)
    response = upload(client, tenant, auth_headers(reader), image_bytes("PNG"))
    assert response.status_code == 403


def test_library_lists_describes_and_deletes(
    client: TestClient,
    tenant: Tenant,
    author: User,
    user: UserMaker,
    auth_headers: AuthHeaders,
    settings: Settings,
) -> None:
    headers = auth_headers(author)
    first = uploaded(client, tenant, headers, image_bytes("PNG"))
    second = uploaded(client, tenant, headers, image_bytes("JPEG"), purpose="avatar")
    assert second["purpose"] == "avatar"
    listed = client.get(tenant_path(tenant, "/media"), params={"limit": 1}, headers=headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    assert [item["id"] for item in listed.json()["items"]] == [second["id"]]  # newest first
    assert 'rel="next"' in listed.headers["link"]
    path = tenant_path(tenant, f"/media/{first['id']}")
    assert client.get(path, headers=headers).json() == first

    changed = client.patch(path, json={"alt": "a flag"}, headers=headers)
    assert changed.status_code == 200
    assert changed.json()["alt"] == "a flag"
    assert client.get(path, headers=headers).json()["alt"] == "a flag"
    # Another author may read it, not change or delete it; an editor may.
    other = auth_headers(user(role=Role.author))
    assert client.get(path, headers=other).status_code == 200
    assert_problem(client.patch(path, json={"alt": "x"}, headers=other), 403, "not_your_media")
    assert_problem(client.delete(path, headers=other), 403, "not_your_media")

    editor = auth_headers(user(role=Role.editor))
    assert client.delete(path, headers=editor).status_code == 204
    assert_problem(client.get(path, headers=headers), 404, "media_not_found")
    for file in first["files"]:
        assert client.get(file["url"]).status_code == 404
    assert fetch(client, second["url"])  # the other upload's files stay
    assert client.get(tenant_path(tenant, "/media"), headers=headers).json()["total"] == 1
    assert not (Path(settings.media_root) / str(tenant.id) / first["url"].split("/")[3]).exists()


def test_alt_text_is_checked(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    body = uploaded(client, tenant, auth_headers(author), image_bytes("PNG"))
    path = tenant_path(tenant, f"/media/{body['id']}")
    too_long = client.patch(path, json={"alt": "x" * 1001}, headers=auth_headers(author))
    assert_problem(too_long, 422, "validation_error")
    unknown = client.patch(path, json={"alt": "ok", "url": "/x"}, headers=auth_headers(author))
    assert_problem(unknown, 422, "validation_error")


def test_delete_is_refused_while_a_post_uses_the_media(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    headers = auth_headers(author)
    body = uploaded(client, tenant, headers, image_bytes("PNG"))
    variant = next(file["url"] for file in body["files"] if file["name"] == "w400-webp")
    post = PostFactory(author=author, body=f"Look: ![flag](https://cdn.example{variant})")
    path = tenant_path(tenant, f"/media/{body['id']}")
    assert_problem(client.delete(path, headers=headers), 409, "media_in_use")
    assert fetch(client, body["url"])

    edited = client.patch(
        tenant_path(tenant, f"/posts/{post.id}"), json={"body": "no picture"}, headers=headers
    )
    assert edited.status_code == 200, edited.text
    assert client.delete(path, headers=headers).status_code == 204
    assert client.get(body["url"]).status_code == 404


def test_the_same_bytes_uploaded_twice_keep_their_files_until_both_go(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    headers = auth_headers(author)
    data = image_bytes("PNG")
    first, second = (uploaded(client, tenant, headers, data) for _ in range(2))
    assert first["url"] == second["url"]
    client.delete(tenant_path(tenant, f"/media/{first['id']}"), headers=headers)
    assert fetch(client, second["url"])
    client.delete(tenant_path(tenant, f"/media/{second['id']}"), headers=headers)
    assert client.get(second["url"]).status_code == 404


def test_a_full_blog_gets_413(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    author: User,
    user: UserMaker,
    auth_headers: AuthHeaders,
    app: FastAPI,
) -> None:
    quota = 1024 * 1024
    app.state.settings = app.state.settings.model_copy(update={"media_quota_mb": 1})
    MediaFactory(uploader=author, bytes=quota - 1000)
    data = image_bytes("PNG")
    response = upload(client, tenant, auth_headers(author), data)
    body = assert_problem(response, 413, "media_quota_exceeded")
    assert "1 MB" in body["detail"]
    # The quota is per blog: another blog still has room.
    stranger = user(role=Role.author, tenant=other_tenant)
    assert upload(client, other_tenant, auth_headers(stranger), data).status_code == 201


def test_another_blog_cannot_see_or_touch_media(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    author: User,
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    body = uploaded(client, tenant, auth_headers(author), image_bytes("PNG"))
    stranger = auth_headers(user(role=Role.owner, tenant=other_tenant))
    listed = client.get(tenant_path(other_tenant, "/media"), headers=stranger)
    assert listed.json()["total"] == 0
    foreign = tenant_path(other_tenant, f"/media/{body['id']}")
    assert_problem(client.get(foreign, headers=stranger), 404, "media_not_found")
    assert_problem(
        client.patch(foreign, json={"alt": "x"}, headers=stranger), 404, "media_not_found"
    )
    assert_problem(client.delete(foreign, headers=stranger), 404, "media_not_found")
    # Its token does not open the first blog's library either.
    own = tenant_path(tenant, f"/media/{body['id']}")
    assert client.get(own, headers=stranger).status_code == 401
    assert fetch(client, body["url"])


@pytest.mark.parametrize(
    "key",
    [
        "../outside.png",
        "a/../../outside.png",
        "/etc/passwd",
        "%2e%2e/outside.png",
        "a/%2e%2e/%2e%2e/outside.png",
        "a\\..\\..\\outside.png",
        "a/./b.png",
        "a//b.png",
        "",
        ".hidden",
        "a/\x00.png",
    ],
)
def test_local_storage_keeps_keys_inside_its_root(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "root", "/media")
    for operation in (
        lambda: storage.put(key, b"x", "image/png"),
        lambda: storage.get(key),
        lambda: storage.delete(key),
        lambda: storage.url(key),
    ):
        with pytest.raises(InvalidStorageKey):
            operation()
    assert [path.name for path in tmp_path.rglob("*")] in ([], ["root"])


def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, "/media/")
    key = "t/abc/original.png"
    storage.put(key, b"data", "image/png")
    assert storage.get(key) == b"data"
    assert storage.url(key) == "/media/t/abc/original.png"
    storage.delete(key)
    storage.delete(key)  # missing is fine
    with pytest.raises(KeyError):
        storage.get(key)
    assert list(tmp_path.iterdir()) == []  # its empty directories went too


@pytest.mark.parametrize(
    "path", ["/media/../blog.db", "/media/%2e%2e/%2e%2e/etc/passwd", "/media/..%2fsettings.py"]
)
def test_the_media_path_serves_nothing_outside_the_root(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_an_uploaders_deleted_account_leaves_the_media(
    client: TestClient, tenant: Tenant, author: User, user: UserMaker, auth_headers: AuthHeaders
) -> None:
    body = uploaded(client, tenant, auth_headers(author), image_bytes("PNG"))
    admin = auth_headers(user(role=Role.admin))
    gone = client.delete(tenant_path(tenant, f"/users/{author.id}"), headers=admin)
    assert gone.status_code == 204, gone.text
    kept = client.get(tenant_path(tenant, f"/media/{body['id']}"), headers=admin)
    assert kept.json()["uploaded_by"] is None
    assert fetch(client, body["url"])


def test_a_wide_image_gets_every_variant_and_no_full_size_webp(
    client: TestClient, tenant: Tenant, author: User, auth_headers: AuthHeaders
) -> None:
    body = uploaded(client, tenant, auth_headers(author), image_bytes("JPEG", (2000, 100)))
    widths = {file["name"]: file["width"] for file in body["files"]}
    assert widths == {
        "original": 2000,
        "w400": 400,
        "w400-webp": 400,
        "w800": 800,
        "w800-webp": 800,
        "w1600": 1600,
        "w1600-webp": 1600,
    }
