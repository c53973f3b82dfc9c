"""Media in ``blog export`` / ``blog import``: their rows always, their files with
``--with-media``; a blog imported under a new id gets keys (and files) of its own."""

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from blog.settings import Settings, get_settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.cli import Blog, said
from tests.test_media import fetch, image_bytes, uploaded

pytestmark = pytest.mark.usefixtures("cli_settings")

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]


@pytest.fixture
def media_root(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands use the app's media storage."""
    monkeypatch.setenv("BLOG_MEDIA_ROOT", str(settings.media_root))
    get_settings.cache_clear()
    return Path(settings.media_root)


@pytest.fixture
def picture(
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    media_root: Path,
) -> dict[str, Any]:
    return uploaded(
        client, tenant, auth_headers(user(role=Role.author)), image_bytes("PNG"), alt="a flag"
    )


def export(blog: Blog, slug: str, path: Path, *options: str) -> dict[str, Any]:
    result = blog("export", slug, "-o", str(path), *options)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def media_of(client: TestClient, slug: str, owner: dict[str, str]) -> list[dict[str, Any]]:
    listed = client.get(f"/api/v1/tenants/{slug}/media", headers=owner)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def owner_headers(client: TestClient, slug: str, owner: User) -> dict[str, str]:
    token = client.post(
        f"/api/v1/tenants/{slug}/auth/token",
        data={"username": owner.username, "password": "correct horse battery"},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_an_export_holds_media_metadata_and_files_only_when_asked(
    blog: Blog, tenant: Tenant, picture: dict[str, Any], tmp_path: Path
) -> None:
    plain = export(blog, tenant.slug, tmp_path / "plain.json")
    assert plain["version"] == 7
    [row] = plain["media"]
    assert (row["id"], row["alt"], row["width"]) == (picture["id"], "a flag", 1000)
    assert {file["name"] for file in row["files"]} == {f["name"] for f in picture["files"]}
    assert "media_files" not in plain

    result = blog("export", tenant.slug, "-o", str(tmp_path / "full.json"), "--with-media")
    assert "With 6 media file(s)" in said(result)
    full = json.loads((tmp_path / "full.json").read_text())
    files = {blob["key"]: blob for blob in full["media_files"]}
    assert set(files) == {file["key"] for file in row["files"]}
    original = next(file for file in row["files"] if file["name"] == "original")
    data = base64.b64decode(files[original["key"]]["data"])
    assert Image.open(io.BytesIO(data)).size == (1000, 500)


def test_with_media_moves_the_files_to_another_storage(
    blog: Blog,
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    picture: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    owner = user(role=Role.owner, password="correct horse battery")
    file = tmp_path / "blog.json"
    export(blog, tenant.slug, file, "--with-media")
    served = {f["name"]: fetch(client, f["url"]).content for f in picture["files"]}
    # Another deployment: an empty storage.
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("BLOG_MEDIA_ROOT", str(elsewhere))
    get_settings.cache_clear()

    result = blog("import", str(file), "--as", "moved")

    assert result.exit_code == 0, result.output
    assert "6 media file(s) written" in said(result)
    copy_owner = owner_headers(client, "moved", owner)
    [moved] = media_of(client, "moved", copy_owner)
    assert (moved["id"], moved["alt"]) == (picture["id"], "a flag")
    moved_tenant = moved["url"].split("/")[2]
    assert moved_tenant != str(tenant.id)  # the original's id is taken here: a new one
    for moved_file in moved["files"]:
        key = moved_file["url"].removeprefix("/media/")
        assert key.startswith(f"{moved_tenant}/")
        assert (elsewhere / key).read_bytes() == served[moved_file["name"]]


def test_without_media_a_copy_next_to_its_original_gets_files_of_its_own(
    blog: Blog,
    client: TestClient,
    tenant: Tenant,
    user: UserMaker,
    picture: dict[str, Any],
    tmp_path: Path,
) -> None:
    owner = user(role=Role.owner, password="correct horse battery")
    file = tmp_path / "blog.json"
    export(blog, tenant.slug, file)

    result = blog("import", str(file), "--as", "copy")

    assert result.exit_code == 0, result.output
    copy_owner = owner_headers(client, "copy", owner)
    [copied] = media_of(client, "copy", copy_owner)
    assert copied["url"] != picture["url"]
    assert fetch(client, copied["url"]).content == fetch(client, picture["url"]).content
    # Deleting the copy's media leaves the original's files alone.
    gone = client.delete(f"/api/v1/tenants/copy/media/{copied['id']}", headers=copy_owner)
    assert gone.status_code == 204
    assert client.get(copied["url"]).status_code == 404
    assert fetch(client, picture["url"])


def test_without_media_and_no_files_here_the_import_says_what_is_missing(
    blog: Blog,
    tenant: Tenant,
    picture: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = tmp_path / "blog.json"
    export(blog, tenant.slug, file)
    monkeypatch.setenv("BLOG_MEDIA_ROOT", str(tmp_path / "empty"))
    get_settings.cache_clear()

    result = blog("import", str(file), "--as", "copy")

    assert result.exit_code == 0, result.output
    assert "6 media file(s) were in neither the file nor the storage" in said(result)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda data: data["media_files"].append({**data["media_files"][0], "key": "x/y/z.png"}),
            "no media names",
        ),
        (
            lambda data: data["media"][0]["files"][0].update(key="../../etc/passwd"),
            "not a valid storage key",
        ),
        (
            lambda data: data["media"][0]["files"][0].update(
                key="00000000-0000-0000-0000-000000000000/abc/original.png"
            ),
            "another blog",
        ),
        (
            lambda data: data["media_files"][0].update(data="not base64!"),
            "not base64",
        ),
    ],
    ids=["unnamed file", "traversal", "foreign key", "bad base64"],
)
def test_an_import_refuses_media_files_that_do_not_belong(
    blog: Blog,
    tenant: Tenant,
    picture: dict[str, Any],
    tmp_path: Path,
    tamper: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    data = export(blog, tenant.slug, tmp_path / "blog.json", "--with-media")
    tamper(data)
    file = tmp_path / "tampered.json"
    file.write_text(json.dumps(data))

    result = blog("import", str(file), "--as", "tampered")

    assert result.exit_code != 0
    assert message in said(result)
    assert blog("tenants", "show", "tampered").exit_code != 0  # all or nothing


def test_deleting_a_blog_removes_its_media_files(
    blog: Blog,
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: UserMaker,
    auth_headers: AuthHeaders,
    picture: dict[str, Any],
    media_root: Path,
) -> None:
    stranger = user(role=Role.author, tenant=other_tenant)
    kept = uploaded(client, other_tenant, auth_headers(stranger), image_bytes("PNG"))

    result = blog("tenants", "delete", tenant.slug, "--yes")

    assert result.exit_code == 0, result.output
    assert "6 media file(s) removed" in said(result)
    assert not (media_root / str(tenant.id)).exists()
    for file in picture["files"]:
        assert client.get(file["url"]).status_code == 404
    assert fetch(client, kept["url"])  # the same image in another blog: its own files
