"""A blog's media quota holds when uploads arrive at the same moment: they take the
quota one at a time, so exactly as many as fit are stored, and the rest get 413."""

import io
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from PIL import Image

from blog.media import images
from blog.media.service import MB
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conftest import tenant_path
from tests.test_concurrency import post_at_once

UPLOADERS = 4
MAX_PIXELS = 40_000_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"media_quota_mb": 1, "media_max_bytes": 2 * MB})


def noise_png(side: int, seed: int) -> bytes:
    """A PNG that does not compress: its stored size is known before it is uploaded."""
    rng = random.Random(seed)  # noqa: S311 - test pixels, not secrets
    pixels = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_uploads_at_the_same_moment_take_the_quota_one_at_a_time(
    app: FastAPI,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: Callable[[User], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Slow storage widens the race: an upload whose quota check did not wait for the
    # others' commits would store its files while they store theirs, and all would fit.
    storage = app.state.media_storage
    put = storage.put

    def slow_put(key: str, data: bytes, content_type: str) -> None:
        time.sleep(0.2)
        put(key, data, content_type)

    monkeypatch.setattr(storage, "put", slow_put)
    files = [noise_png(395, seed) for seed in range(UPLOADERS)]
    stored = [
        sum(len(r.data) for r in images.process(f, max_pixels=MAX_PIXELS).renditions) for f in files
    ]
    # Each fits the 1 MB quota alone; no two fit together.
    assert all(MB / 2 < size <= MB for size in stored), stored
    url = tenant_path(tenant, "/media")
    headers = auth_headers(user(role=Role.author))

    bodies: list[dict[str, Any]] = [{"file": ("noise.png", data, "image/png")} for data in files]
    responses = post_at_once(app, url, bodies, headers, multipart=True)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [413] * (UPLOADERS - 1), [r.text for r in responses]
    refused = [r for r in responses if r.status_code == 413]
    assert all(r.json()["code"] == "media_quota_exceeded" for r in refused)
