"""Concurrent writes that race on unique keys must all succeed, never answer 500."""

import threading
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path

WRITERS = 8


def post_at_once(
    app: FastAPI,
    url: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str],
    *,
    multipart: bool = False,
) -> list[httpx.Response]:
    """Send every body from its own thread, released together by a barrier: as JSON, or
    as the files of a multipart form."""
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def send(index: int) -> None:
        client = TestClient(app)
        barrier.wait()
        body = bodies[index]
        responses[index] = (
            client.post(url, files=body, headers=headers)
            if multipart
            else client.post(url, json=body, headers=headers)
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


@pytest.fixture
def writer_headers(
    user: Callable[..., User], auth_headers: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    return auth_headers(user(role=Role.author))


def test_same_title_at_the_same_moment_gives_distinct_slugs(
    app: FastAPI, tenant: Tenant, writer_headers: dict[str, str], database_backend: str
) -> None:
    body: dict[str, object] = {"title": "Breaking news", "body": "text", "tags": ["news", "today"]}

    responses = post_at_once(app, tenant_path(tenant, "/posts"), [body] * WRITERS, writer_headers)

    assert [r.status_code for r in responses] == [201] * WRITERS, [r.text for r in responses]
    slugs = [r.json()["slug"] for r in responses]
    assert len(set(slugs)) == WRITERS
    assert "breaking-news" in slugs
    assert all(slug.startswith("breaking-news") for slug in slugs)


def test_new_tags_created_at_the_same_moment_are_shared(
    app: FastAPI, client: TestClient, tenant: Tenant, writer_headers: dict[str, str]
) -> None:
    bodies: list[dict[str, object]] = [
        {"title": f"Post {i}", "body": "text", "tags": ["fresh", f"own{i}"], "status": "published"}
        for i in range(WRITERS)
    ]

    responses = post_at_once(app, tenant_path(tenant, "/posts"), bodies, writer_headers)

    assert [r.status_code for r in responses] == [201] * WRITERS, [r.text for r in responses]
    tags = client.get(tenant_path(tenant, "/tags?limit=100")).json()
    assert {"name": "fresh", "posts_count": WRITERS} in tags["items"]
    assert tags["total"] == WRITERS + 1
