"""A post's revisions and its writers' autosaves, through the HTTP API.

Every save of a post's title, description, body or tags keeps a revision (capped per
post); its author and editors list, read and restore them. An autosave is a writer's
working copy: seen only by that writer and editors, it changes nothing readers see and
moves no content version, so readers' ETags stay valid.
"""

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from blog.posts.models import PostStatus
from blog.revisions.models import PostAutosave, PostRevision
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.cli import Blog, export_of
from tests.conduit import Conduit
from tests.conftest import tenant_path
from tests.factories import PostAutosaveFactory, PostFactory, PostRevisionFactory, one_commit
from tests.test_posts import create_post, created, delete_post, post_path, read_post, update_post

UserMaker = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"


def revisions(
    client: TestClient, tenant: Tenant, post_id: str, headers: dict[str, str] | None, **params: Any
) -> httpx.Response:
    return client.get(post_path(tenant, post_id, "/revisions"), params=params, headers=headers)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def autosave(
    client: TestClient, tenant: Tenant, post_id: str, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    return client.put(post_path(tenant, post_id, "/autosave"), json=fields, headers=headers)


def autosaves(client: TestClient, tenant: Tenant, post_id: str, headers: dict[str, str]) -> Any:
    """The working copies of the post the caller sees."""
    return ok(client.get(post_path(tenant, post_id, "/autosaves"), headers=headers))["items"]


@pytest.fixture
def author(user: UserMaker) -> User:
    return user(role=Role.author)


@pytest.fixture
def as_author(author: User, auth_headers: AuthHeaders) -> dict[str, str]:
    return auth_headers(author)


@pytest.fixture
def post(client: TestClient, tenant: Tenant, as_author: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = created(
        create_post(
            client, tenant, as_author, title="First", description="d1", body="b1", tags=["a"]
        )
    )
    return body


# --- revisions ------------------------------------------------------------------------------


def test_each_save_keeps_a_revision_newest_first_with_who_and_what(
    client: TestClient,
    tenant: Tenant,
    author: User,
    as_author: dict[str, str],
    post: dict[str, Any],
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    editor = user(role=Role.editor)
    ok(update_post(client, tenant, post["id"], as_author, body="b2"))
    ok(update_post(client, tenant, post["id"], auth_headers(editor), tags=["b", "c"]))

    response = revisions(client, tenant, post["id"], as_author)
    page = ok(response)

    assert page["total"] == 3
    assert response.headers["X-Total-Count"] == "3"
    assert 'rel="first"' in response.headers["Link"]
    items = page["items"]
    savers = [str(editor.id), str(author.id), str(author.id)]
    assert [item["author_id"] for item in items] == savers
    assert [item["tags"] for item in items] == [["b", "c"], ["a"], ["a"]]
    assert [item["title"] for item in items] == ["First"] * 3
    assert "body" not in items[0]
    bodies = [
        ok(
            client.get(post_path(tenant, post["id"], f"/revisions/{item['id']}"), headers=as_author)
        )["body"]
        for item in items
    ]
    assert bodies == ["b2", "b2", "b1"]


def test_a_save_that_changes_no_content_keeps_no_revision(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    ok(update_post(client, tenant, post["id"], as_author, title="First", body="b1"))
    ok(update_post(client, tenant, post["id"], as_author, status="published"))

    assert ok(revisions(client, tenant, post["id"], as_author))["total"] == 1


def test_restore_is_a_new_revision_and_brings_the_content_back(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    ok(update_post(client, tenant, post["id"], as_author, title="Second", body="b2", tags=[]))
    first = ok(revisions(client, tenant, post["id"], as_author))["items"][-1]

    restored = client.post(
        post_path(tenant, post["id"], f"/revisions/{first['id']}/restore"), headers=as_author
    )

    body = ok(restored)
    assert (body["title"], body["description"], body["body"], body["tags"]) == (
        "First",
        "d1",
        "b1",
        ["a"],
    )
    assert ok(read_post(client, tenant, post["id"], as_author))["body"] == "b1"
    page = ok(revisions(client, tenant, post["id"], as_author))
    assert page["total"] == 3
    assert page["items"][0]["title"] == "First"
    assert page["items"][0]["id"] != first["id"]


def test_restore_of_a_published_post_changes_what_readers_see(
    client: TestClient, tenant: Tenant, as_author: dict[str, str]
) -> None:
    post = created(create_post(client, tenant, as_author, body="old", status="published"))
    ok(update_post(client, tenant, post["id"], as_author, body="new"))
    oldest = ok(revisions(client, tenant, post["id"], as_author))["items"][-1]
    url = post_path(tenant, post["id"])
    etag = client.get(url).headers["etag"]

    ok(
        client.post(
            post_path(tenant, post["id"], f"/revisions/{oldest['id']}/restore"), headers=as_author
        )
    )

    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["body"] == "old"


def test_revisions_are_capped_at_the_setting_in_the_saving_transaction(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    settings: Settings,
) -> None:
    settings.revisions_per_post = 3
    for n in range(2, 7):
        ok(update_post(client, tenant, post["id"], as_author, body=f"b{n}"))

    page = ok(revisions(client, tenant, post["id"], as_author))

    assert page["total"] == 3
    bodies = [
        ok(
            client.get(post_path(tenant, post["id"], f"/revisions/{item['id']}"), headers=as_author)
        )["body"]
        for item in page["items"]
    ]
    assert bodies == ["b6", "b5", "b4"]


def test_revisions_page_with_links(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    for n in range(2, 5):
        ok(update_post(client, tenant, post["id"], as_author, body=f"b{n}"))

    response = revisions(client, tenant, post["id"], as_author, limit=2, offset=2)

    page = ok(response)
    assert (page["total"], len(page["items"])) == (4, 2)
    assert 'rel="prev"' in response.headers["Link"]
    assert 'rel="next"' not in response.headers["Link"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("author", 200),
        ("editor", 200),
        ("admin", 200),
        ("other_author", 403),
        ("reader", 403),
        ("anonymous", 401),
    ],
)
def test_who_may_see_and_restore_revisions_of_a_published_post(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    user: UserMaker,
    auth_headers: AuthHeaders,
    who: str,
    status: int,
) -> None:
    post = created(create_post(client, tenant, as_author, status="published"))
    callers = {
        "author": as_author,
        "editor": auth_headers(user(role=Role.editor)),
        "admin": auth_headers(user(role=Role.admin)),
        "other_author": auth_headers(user(role=Role.author)),
        "reader": auth_headers(user(role=Role.reader)),
        "anonymous": None,
    }
    revision = ok(revisions(client, tenant, post["id"], as_author))["items"][0]
    one = post_path(tenant, post["id"], f"/revisions/{revision['id']}")

    headers = callers[who]
    assert revisions(client, tenant, post["id"], headers).status_code == status
    assert client.get(one, headers=headers).status_code == status
    assert client.post(f"{one}/restore", headers=headers).status_code == status


def test_another_writers_draft_and_another_blogs_post_are_not_found(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    revision = ok(revisions(client, tenant, post["id"], as_author))["items"][0]
    rival = auth_headers(user(role=Role.author))
    elsewhere = auth_headers(user(role=Role.owner, tenant=other_tenant))

    assert post["status"] == PostStatus.draft
    assert revisions(client, tenant, post["id"], rival).status_code == 404
    for path in ("/revisions", f"/revisions/{revision['id']}", "/autosaves", "/edit"):
        response = client.get(post_path(other_tenant, post["id"], path), headers=elsewhere)
        assert response.status_code == 404, path
    restore = f"/revisions/{revision['id']}/restore"
    assert (
        client.post(post_path(other_tenant, post["id"], restore), headers=elsewhere).status_code
        == 404
    )
    missing = client.get(
        post_path(tenant, post["id"], f"/revisions/{UNKNOWN_ID}"), headers=as_author
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "revision_not_found"


def test_a_revision_of_another_post_is_not_found_under_this_one(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    other = created(create_post(client, tenant, as_author, title="Other"))
    revision = ok(revisions(client, tenant, other["id"], as_author))["items"][0]

    response = client.get(
        post_path(tenant, post["id"], f"/revisions/{revision['id']}"), headers=as_author
    )

    assert response.status_code == 404


def test_deleting_a_post_deletes_its_revisions_and_autosaves(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    db: Session,
) -> None:
    ok(autosave(client, tenant, post["id"], as_author, body="working"))
    assert delete_post(client, tenant, post["id"], as_author).status_code == 204

    post_id = uuid.UUID(post["id"])
    db.expire_all()
    assert not db.exec(select(PostRevision).where(col(PostRevision.post_id) == post_id)).all()
    assert not db.exec(select(PostAutosave).where(col(PostAutosave.post_id) == post_id)).all()


def test_a_deleted_savers_revisions_stay_without_a_saver(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    editor = user(role=Role.editor)
    as_editor = auth_headers(editor)
    ok(update_post(client, tenant, post["id"], as_editor, body="by the editor"))
    ok(autosave(client, tenant, post["id"], as_editor, body="editor's copy"))
    owner = auth_headers(user(role=Role.owner))

    gone = client.delete(tenant_path(tenant, f"/users/{editor.id}"), headers=owner)

    assert gone.status_code == 204, gone.text
    items = ok(revisions(client, tenant, post["id"], as_author))["items"]
    assert items[0]["author_id"] is None
    assert ok(client.get(post_path(tenant, post["id"], "/autosaves"), headers=owner))["total"] == 0


def test_realworld_saves_keep_revisions_and_its_answers_do_not_change(
    api: Conduit,
    client: TestClient,
    tenant: Tenant,
    author: User,
    as_author: dict[str, str],
    settings: Settings,
) -> None:
    settings.revisions_per_post = 2
    article = api.article(author, body="one")
    for body in ("two", "three"):
        changed = api.update_article(article["slug"], author, body=body)
        assert changed.status_code == 200, changed.text
        assert set(changed.json()["article"]) == set(article)

    post_id = ok(client.get(tenant_path(tenant, f"/posts/by-slug/{article['slug']}")))["id"]
    page = ok(revisions(client, tenant, post_id, as_author))
    assert page["total"] == 2
    assert (
        ok(
            client.get(
                post_path(tenant, post_id, f"/revisions/{page['items'][-1]['id']}"),
                headers=as_author,
            )
        )["body"]
        == "two"
    )


# --- autosave -------------------------------------------------------------------------------


def test_autosave_is_invisible_to_readers_and_keeps_their_etag(
    client: TestClient, tenant: Tenant, as_author: dict[str, str]
) -> None:
    post = created(create_post(client, tenant, as_author, body="published", status="published"))
    url, posts = post_path(tenant, post["id"]), tenant_path(tenant, "/posts")
    for _ in range(2):  # the cache keeps a URL on its second reading
        etag, list_etag = client.get(url).headers["etag"], client.get(posts).headers["etag"]

    saved = autosave(client, tenant, post["id"], as_author, title="Working", body="draft text")

    assert ok(saved)["body"] == "draft text"
    assert saved.headers["cache-control"] == "no-store"
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(posts, headers={"If-None-Match": list_etag}).status_code == 304
    again = client.get(url)
    assert (again.headers["etag"], again.json()["body"]) == (etag, "published")
    assert ok(read_post(client, tenant, post["id"], as_author))["title"] == post["title"]
    # Where a save does move it:
    ok(update_post(client, tenant, post["id"], as_author, body="saved"))
    changed = client.get(url, headers={"If-None-Match": etag})
    assert (changed.status_code, changed.json()["body"]) == (200, "saved")


def test_autosave_keeps_no_revision_and_is_overwritten(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    ok(autosave(client, tenant, post["id"], as_author, body="one"))
    ok(autosave(client, tenant, post["id"], as_author, title="Two"))

    [mine] = autosaves(client, tenant, post["id"], as_author)

    assert (mine["title"], mine["body"], mine["description"], mine["tags"]) == (
        "Two",
        None,
        None,
        None,
    )
    assert ok(revisions(client, tenant, post["id"], as_author))["total"] == 1
    assert (
        ok(client.get(post_path(tenant, post["id"], "/autosaves"), headers=as_author))["total"] == 1
    )


def test_opening_for_editing_returns_a_newer_autosave_until_the_post_is_saved(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    edit = post_path(tenant, post["id"], "/edit")
    assert ok(client.get(edit, headers=as_author))["autosave"] is None

    ok(autosave(client, tenant, post["id"], as_author, body="working copy", tags=["x"]))
    opened = client.get(edit, headers=as_author)

    body = ok(opened)
    assert opened.headers["cache-control"] == "no-store"
    assert body["body"] == "b1"
    assert (body["autosave"]["body"], body["autosave"]["tags"]) == ("working copy", ["x"])

    ok(update_post(client, tenant, post["id"], as_author, body="saved"))
    assert ok(client.get(edit, headers=as_author))["autosave"] is None
    assert autosaves(client, tenant, post["id"], as_author) == []


def test_an_autosave_older_than_the_saved_post_is_not_offered(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    ok(autosave(client, tenant, post["id"], as_author, body="stale copy"))
    ok(update_post(client, tenant, post["id"], auth_headers(user(role=Role.editor)), body="new"))

    opened = ok(client.get(post_path(tenant, post["id"], "/edit"), headers=as_author))

    assert opened["body"] == "new"
    assert opened["autosave"] is None
    # Still there, for the writer to look at; just not newer than what was saved.
    assert [mine["body"] for mine in autosaves(client, tenant, post["id"], as_author)] == [
        "stale copy"
    ]


def test_only_its_writer_and_editors_see_an_autosave(
    client: TestClient,
    tenant: Tenant,
    author: User,
    as_author: dict[str, str],
    user: UserMaker,
    auth_headers: AuthHeaders,
) -> None:
    post = created(create_post(client, tenant, as_author, status="published"))
    editor = user(role=Role.editor)
    ok(autosave(client, tenant, post["id"], as_author, body="author's copy"))
    ok(autosave(client, tenant, post["id"], auth_headers(editor), body="editor's copy"))

    by_editor = autosaves(client, tenant, post["id"], auth_headers(editor))
    by_author = autosaves(client, tenant, post["id"], as_author)

    assert {item["body"] for item in by_editor} == {"author's copy", "editor's copy"}
    assert [(item["user_id"], item["body"]) for item in by_author] == [
        (str(author.id), "author's copy")
    ]
    rival = auth_headers(user(role=Role.author))
    reader = auth_headers(user(role=Role.reader))
    for headers, status in ((rival, 403), (reader, 403), (None, 401)):
        for path in ("/autosaves", "/edit"):
            response = client.get(post_path(tenant, post["id"], path), headers=headers)
            assert response.status_code == status, (path, status)
        assert autosave(client, tenant, post["id"], headers or {}, body="x").status_code == status


def test_autosave_input_is_checked_like_a_post(
    client: TestClient, tenant: Tenant, as_author: dict[str, str], post: dict[str, Any]
) -> None:
    for fields in ({"title": ""}, {"body": "  "}, {"tags": ["x"] * 11}, {"status": "published"}):
        response = autosave(client, tenant, post["id"], as_author, **fields)
        assert response.status_code == 422, fields
    response = client.put(
        post_path(tenant, post["id"], "/autosave"), json={"title": None}, headers=as_author
    )
    assert response.status_code == 422


# --- export and import ----------------------------------------------------------------------


def test_factories_make_revisions_and_autosaves_of_one_blog(db: Session, tenant: Tenant) -> None:
    with one_commit():
        post = PostFactory(author__tenant=tenant)
        revision = PostRevisionFactory(post=post)
        saved = PostAutosaveFactory(post=post)

    assert revision.tenant_id == saved.tenant_id == post.tenant_id == tenant.id
    assert revision.author_id == saved.user_id == post.author_id


@pytest.mark.usefixtures("cli_settings")
def test_export_and_import_carry_revisions_and_autosaves(
    client: TestClient,
    tenant: Tenant,
    as_author: dict[str, str],
    post: dict[str, Any],
    blog: Blog,
    tmp_path: Path,
) -> None:
    ok(update_post(client, tenant, post["id"], as_author, body="b2"))
    ok(autosave(client, tenant, post["id"], as_author, body="working"))
    path = tmp_path / "export.json"

    assert blog("export", tenant.slug, "--output", str(path)).exit_code == 0
    imported = blog("import", str(path), "--as", "copy")

    assert imported.exit_code == 0, imported.output
    exported = json.loads(path.read_text())
    assert exported["version"] == 7
    assert [row["body"] for row in exported["post_revisions"]] == ["b1", "b2"]
    assert [row["body"] for row in exported["post_autosaves"]] == ["working"]
    copy = export_of(blog, "copy")
    assert copy["post_revisions"] == exported["post_revisions"]
    assert copy["post_autosaves"] == exported["post_autosaves"]


@pytest.mark.usefixtures("cli_settings")
def test_an_older_export_imports_with_no_history(
    blog: Blog, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    assert blog("export", tenant.slug, "--output", str(path)).exit_code == 0
    old = json.loads(path.read_text())
    del old["post_revisions"], old["post_autosaves"]
    path.write_text(json.dumps({**old, "version": 5}))

    imported = blog("import", str(path), "--as", "copy")

    assert imported.exit_code == 0, imported.output
    assert export_of(blog, "copy")["post_revisions"] == []
