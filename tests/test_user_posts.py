"""A user's posts: the with-posts profile, and what deleting an account keeps.

Deleting an account removes the user's comments and logins; their posts stay,
without an author, so other members' comments on them are not lost.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from blog.database import utcnow
from blog.posts.models import Comment, Post, PostStatus
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.factories import CommentFactory, PostFactory
from tests.problems import problem_body

MakeUser = Callable[..., User]
AuthHeaders = Callable[[User], dict[str, str]]


def with_posts(
    client: TestClient, tenant: Tenant, subject: User, headers: dict[str, str] | None = None
) -> list[dict[str, object]]:
    response = client.get(tenant_path(tenant, f"/users/{subject.id}/with-posts"), headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(subject.id)
    assert "email" not in body
    posts: list[dict[str, object]] = body["posts"]
    return posts


def test_with_posts_shows_published_posts_with_tags_newest_first(
    client: TestClient, tenant: Tenant, user: MakeUser, db: Session
) -> None:
    author = user()
    now = utcnow()
    newer: Post = PostFactory.create(author=author, tags=["c"], published_at=now)
    older: Post = PostFactory.create(
        author=author, tags=["b", "a"], published_at=now - timedelta(days=1)
    )
    PostFactory.create(author=author, status=PostStatus.draft)

    posts = with_posts(client, tenant, author)

    assert [p["id"] for p in posts] == [str(newer.id), str(older.id)]
    assert posts[1]["tags"] == ["b", "a"]
    assert all("body" not in p for p in posts)


def test_with_posts_includes_drafts_for_the_user_and_for_editors(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    author, editor, colleague = user(), user(role=Role.editor), user()
    PostFactory.create(author=author)
    draft: Post = PostFactory.create(author=author, status=PostStatus.draft)

    own = with_posts(client, tenant, author, auth_headers(author))
    edited = with_posts(client, tenant, author, auth_headers(editor))
    seen_by_colleague = with_posts(client, tenant, author, auth_headers(colleague))

    assert str(draft.id) in {p["id"] for p in own}
    assert str(draft.id) in {p["id"] for p in edited}
    assert str(draft.id) not in {p["id"] for p in seen_by_colleague}
    assert len(seen_by_colleague) == 1


def test_with_posts_of_another_tenants_user_is_404_like_an_unknown_one(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, user: MakeUser, db: Session
) -> None:
    outsider = user(tenant=other_tenant)
    PostFactory.create(author=outsider)

    foreign = client.get(tenant_path(tenant, f"/users/{outsider.id}/with-posts"))
    unknown = client.get(tenant_path(tenant, f"/users/{uuid.uuid4()}/with-posts"))

    assert foreign.status_code == unknown.status_code == 404
    assert problem_body(foreign) == problem_body(unknown)


def test_with_posts_refuses_another_tenants_token(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    user: MakeUser,
    auth_headers: AuthHeaders,
) -> None:
    author = user()

    response = client.get(
        tenant_path(tenant, f"/users/{author.id}/with-posts"),
        headers=auth_headers(user(role=Role.editor, tenant=other_tenant)),
    )

    assert response.status_code == 401


def test_deleting_an_account_keeps_its_posts_without_an_author(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    leaving, editor = user(), user(role=Role.editor)
    published: Post = PostFactory.create(author=leaving, tags=["kept"])
    draft: Post = PostFactory.create(author=leaving, status=PostStatus.draft)

    deleted = client.delete(
        tenant_path(tenant, f"/users/{leaving.id}"), headers=auth_headers(leaving)
    )

    assert deleted.status_code == 204
    public = client.get(tenant_path(tenant, f"/posts/{published.id}"))
    assert public.status_code == 200
    assert public.json()["author"] is None
    assert public.json()["tags"] == ["kept"]
    listed = client.get(tenant_path(tenant, "/posts")).json()["items"]
    assert [(p["id"], p["author"]) for p in listed] == [(str(published.id), None)]
    orphan_draft = client.get(
        tenant_path(tenant, f"/posts/{draft.id}"), headers=auth_headers(editor)
    )
    assert orphan_draft.status_code == 200
    assert orphan_draft.json()["author"] is None


def test_deleting_an_account_keeps_other_members_comments_and_posts(
    client: TestClient, tenant: Tenant, user: MakeUser, auth_headers: AuthHeaders, db: Session
) -> None:
    leaving, staying = user(), user()
    leaving_post: Post = PostFactory.create(author=leaving)
    staying_post: Post = PostFactory.create(author=staying)
    kept: Comment = CommentFactory.create(post=leaving_post, author=staying)
    gone: Comment = CommentFactory.create(post=staying_post, author=leaving)

    client.delete(tenant_path(tenant, f"/users/{leaving.id}"), headers=auth_headers(leaving))

    on_leaving_post = client.get(tenant_path(tenant, f"/posts/{leaving_post.id}/comments"))
    on_staying_post = client.get(tenant_path(tenant, f"/posts/{staying_post.id}/comments"))
    assert [c["id"] for c in on_leaving_post.json()["items"]] == [str(kept.id)]
    assert str(gone.id) not in {c["id"] for c in on_staying_post.json()["items"]}
    assert on_staying_post.json()["total"] == 0
    assert client.get(tenant_path(tenant, f"/posts/{staying_post.id}")).status_code == 200
    assert with_posts(client, tenant, staying)[0]["id"] == str(staying_post.id)
