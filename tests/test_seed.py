"""The seeder: deterministic, rerunnable, interruptible, and readable by the API."""

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from blog.auth.security import PasswordHasher
from blog.bulk import BulkInsert, columns_of
from blog.cli import app as cli
from blog.models import metadata
from blog.posts.models import Tag
from blog.seeding import SEED_PASSWORD, SeedPlan, SeedProgress, seed
from blog.testing.plugin import empty_all_tables
from blog.users.models import Role, User

PLAN = SeedPlan(tenants=2, users_per_tenant=5, posts_per_user=8, comments_per_post=2, tags=6)
HASHER = PasswordHasher(rounds=4)


def snapshot(owner_engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (not the bookkeeping: rate limits, and
    content versions, which start from the clock)."""
    with owner_engine.connect() as connection:
        return {
            table.name: sorted(
                tuple(str(value) for value in row)
                for row in connection.execute(sa.select(table)).all()
            )
            for table in metadata.sorted_tables
            if table.name not in {"rate_limit_hits", "tenant_versions"}
        }


def test_seeding_writes_the_planned_rows(engine: Engine, owner_engine: Engine) -> None:
    report = seed(engine, PLAN, hasher=HASHER)

    rows = snapshot(owner_engine)
    assert report.created == ["seed-0-0", "seed-0-1"]
    assert len(rows["tenants"]) == 2
    assert len(rows["users"]) == 10
    assert len(rows["posts"]) == 80
    assert len(rows["comments"]) == 160
    assert len(rows["tags"]) == 12
    assert len(rows["post_tags"]) == report.rows["post_tags"] > 0
    assert len({row[-4] for row in rows["users"]}) == 1  # one hash shared by every account
    with owner_engine.connect() as connection:  # each blog's version, written as that blog
        versions = connection.execute(sa.select(metadata.tables["tenant_versions"])).all()
    assert len(versions) == 2


def test_same_seed_gives_the_same_data(engine: Engine, owner_engine: Engine) -> None:
    seed(engine, PLAN, hasher=HASHER)
    first = snapshot(owner_engine)
    empty_all_tables(owner_engine)

    seed(engine, PLAN, hasher=PasswordHasher(rounds=4))
    second = snapshot(owner_engine)

    hash_column = 10
    for rows in (first["users"], second["users"]):
        rows[:] = [row[:hash_column] + row[hash_column + 1 :] for row in rows]  # salted
    assert first == second


def test_another_seed_gives_other_blogs(engine: Engine, owner_engine: Engine) -> None:
    seed(engine, PLAN, hasher=HASHER)
    report = seed(
        engine, SeedPlan(tenants=1, users_per_tenant=2, posts_per_user=1, seed=9), hasher=HASHER
    )

    assert report.created == ["seed-9-0"]
    assert len(snapshot(owner_engine)["tenants"]) == 3


def test_rerunning_does_not_duplicate(engine: Engine, owner_engine: Engine) -> None:
    seed(engine, PLAN, hasher=HASHER)
    before = snapshot(owner_engine)

    report = seed(engine, PLAN, hasher=HASHER)

    assert report.created == []
    assert report.skipped == ["seed-0-0", "seed-0-1"]
    assert snapshot(owner_engine) == before


class _Interrupt(SeedProgress):
    """Presses Ctrl-C in the middle of the second blog's posts."""

    def __init__(self) -> None:
        self.posts_batches = 0

    def advance(self, table: str, rows: int) -> None:  # noqa: ARG002
        if table == "posts":
            self.posts_batches += 1
            if self.posts_batches == 3:
                raise KeyboardInterrupt


def test_interrupted_seeding_leaves_whole_blogs_only(engine: Engine, owner_engine: Engine) -> None:
    plan = SeedPlan(tenants=2, users_per_tenant=4, posts_per_user=5, tags=3, batch_size=10)

    with pytest.raises(KeyboardInterrupt):
        seed(engine, plan, hasher=HASHER, progress=_Interrupt())

    rows = snapshot(owner_engine)
    assert [row[1] for row in rows["tenants"]] == ["seed-0-0"]
    assert len(rows["posts"]) == 20
    assert {row[0] for row in rows["posts"]} == {rows["tenants"][0][0]}

    report = seed(engine, plan, hasher=HASHER)
    assert report.created == ["seed-0-1"]
    assert len(snapshot(owner_engine)["posts"]) == 40


def test_seeded_blogs_work_through_the_api(engine: Engine, client: TestClient) -> None:
    seed(engine, PLAN, hasher=HASHER)
    base = "/api/v1/tenants/seed-0-1"

    posts = client.get(f"{base}/posts?limit=100").json()
    author = posts["items"][0]["author"]["username"]
    login = client.post(f"{base}/auth/token", data={"username": author, "password": SEED_PASSWORD})

    assert 0 < posts["total"] <= 40
    assert all(item["author"] for item in posts["items"])
    assert login.status_code == 200
    assert client.get(f"{base}/tags").json()["total"] > 0
    comments = client.get(f"{base}/posts/{posts['items'][0]['id']}/comments").json()
    assert comments["total"] == 2
    feed = client.get("/blogs/seed-0-1/feed.atom")
    assert feed.status_code == 200
    assert "last-modified" in feed.headers  # the version's time, written with the blog
    assert posts["items"][0]["title"] in feed.text


def test_seed_command(database_url: str, owner_engine: Engine) -> None:
    runner = CliRunner()
    arguments = [
        "seed", "--tenants", "1", "--users-per-tenant", "3", "--posts-per-user", "2",
        "--seed", "4", "--database-url", database_url,
    ]  # fmt: skip

    first = runner.invoke(cli, arguments)
    again = runner.invoke(cli, arguments)
    invalid = runner.invoke(cli, ["seed", "--tenants", "0", "--database-url", database_url])

    assert first.exit_code == 0, first.output
    assert "seed-4-0: created" in first.output
    assert "seed-4-0: exists, skipped" in again.output
    assert len(snapshot(owner_engine)["posts"]) == 6
    assert invalid.exit_code != 0
    assert "Traceback" not in invalid.output


def test_seeded_rows_get_the_models_defaults_for_what_the_seeder_leaves_out(
    engine: Engine, owner_engine: Engine
) -> None:
    seed(engine, PLAN, hasher=HASHER)

    with owner_engine.connect() as connection:
        users = connection.execute(sa.select(metadata.tables["users"])).mappings().all()
        tenants = connection.execute(sa.select(metadata.tables["tenants"])).mappings().all()
    assert {(u["failed_logins"], u["locked_until"], u["token_generation"]) for u in users} == {
        (0, None, 0)
    }
    assert {(t["require_verified_email"], t["lockout_threshold"]) for t in tenants} == {(False, 5)}


def test_a_bulk_insert_names_every_column_of_its_model() -> None:
    row = {"tenant_id": 1, "id": 2, "email": "a@b", "username": "a", "username_key": "a"}
    bulk = BulkInsert.of(User, {**row, "hashed_password": "x", "created_at": 3, "updated_at": 3})

    assert set(bulk.columns) == set(columns_of(User))
    values = dict(
        zip(
            bulk.columns,
            bulk.values({**row, "hashed_password": "x", "created_at": 3, "updated_at": 3}),
            strict=True,
        )
    )
    assert (values["role"], values["is_active"], values["failed_logins"]) == (Role.author, True, 0)
    assert (values["bio"], values["email_verified_at"]) == (None, None)
    assert bulk.statement("?").startswith("INSERT INTO users (tenant_id, id, email")


def test_a_bulk_insert_refuses_a_column_its_model_lacks_or_needs_given() -> None:
    with pytest.raises(ValueError, match="tags has no column colour"):
        BulkInsert.of(Tag, {"tenant_id": 1, "id": 2, "name": "a", "colour": "red"})
    with pytest.raises(ValueError, match="rows of tags must give id"):
        BulkInsert.of(Tag, {"tenant_id": 1, "name": "a"})
    with pytest.raises(ValueError, match="tags has no column label"):
        columns_of(Tag, leaving_out={"label"})


def test_a_seeded_blog_is_found_by_its_tags(engine: Engine, client: TestClient) -> None:
    """Seeded posts carry their tag names for search: searching a tag's name finds every
    published post with the tag, not only those whose text holds the word. (This blog's
    tags are none of PostgreSQL's English stop words, which are not indexed.)"""
    seed(engine, PLAN, hasher=HASHER)
    base = "/api/v1/tenants/seed-0-1"
    names = [tag["name"] for tag in client.get(f"{base}/tags?limit=100").json()["items"]]

    for name in names:
        tagged = client.get(f"{base}/posts", params={"tag": name}).json()["total"]
        found = client.get(f"{base}/posts", params={"q": name, "tag": name}).json()["total"]
        assert found == tagged > 0, name
    assert len(names) == PLAN.tags
