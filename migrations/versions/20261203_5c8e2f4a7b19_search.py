"""search

Full-text search of posts (``blog/posts/search.py``): each blog's language
(``tenants.search_language``), each post's tag names on its row (``posts.search_tags``,
filled here from the links), and the index over title, tags, description and body,
built here for the posts that exist and kept current by triggers:

* PostgreSQL: ``posts.search_vector`` (a weighted ``tsvector`` in the blog's language,
  matched) and ``posts.search_summary`` (its title, tags and description part, ranked)
  under a GIN index on ``(tenant_id, search_vector)``: the ``btree_gin`` extension, which
  is trusted (a database owner may create it) and stays on downgrade (other schemas may
  use it);
* SQLite: ``posts_search``, an FTS5 table whose content is ``posts`` (joined by rowid).

The index is built after the rows are in, which is faster than row by row. A later
migration that rebuilds ``posts`` on SQLite (batch mode) must recreate the triggers and
rebuild the index: ``INSERT INTO posts_search(posts_search) VALUES ('rebuild')``.

Revision ID: 5c8e2f4a7b19
Revises: b7c41e9a2d53
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c8e2f4a7b19"
down_revision: str | None = "b7c41e9a2d53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = ("title", "search_tags", "description", "body")

# What ranks a match (small, so ranking reads little) and what is matched (the GIN index).
POSTGRESQL_SUMMARY = """
    setweight(to_tsvector({language}, coalesce({row}.title, '')), 'A')
    || setweight(to_tsvector({language}, coalesce({row}.search_tags, '')), 'B')
    || setweight(to_tsvector({language}, coalesce({row}.description, '')), 'C')
"""
POSTGRESQL_BODY = "setweight(to_tsvector({language}, coalesce({row}.body, '')), 'D')"

POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION posts_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    language regconfig;
BEGIN
    SELECT search_language::regconfig INTO language FROM tenants WHERE id = NEW.tenant_id;
    language := coalesce(language, 'simple');
    NEW.search_summary := {POSTGRESQL_SUMMARY.format(language="language", row="NEW")};
    NEW.search_vector := NEW.search_summary
        || {POSTGRESQL_BODY.format(language="language", row="NEW")};
    RETURN NEW;
END
$$
"""  # noqa: S608 - constant text

SQLITE_TRIGGERS = {
    "posts_search_insert": """
        AFTER INSERT ON posts BEGIN
            INSERT INTO posts_search (rowid, title, search_tags, description, body)
            VALUES (new.rowid, new.title, new.search_tags, new.description, new.body);
        END""",
    "posts_search_delete": """
        AFTER DELETE ON posts BEGIN
            INSERT INTO posts_search (posts_search, rowid, title, search_tags, description, body)
            VALUES ('delete', old.rowid, old.title, old.search_tags, old.description, old.body);
        END""",
    "posts_search_update": """
        AFTER UPDATE OF title, search_tags, description, body ON posts BEGIN
            INSERT INTO posts_search (posts_search, rowid, title, search_tags, description, body)
            VALUES ('delete', old.rowid, old.title, old.search_tags, old.description, old.body);
            INSERT INTO posts_search (rowid, title, search_tags, description, body)
            VALUES (new.rowid, new.title, new.search_tags, new.description, new.body);
        END""",
}


# Each post's tag names in the post's order (SQLite's group_concat keeps the order of
# the rows it is given).
TAG_NAMES = {
    "postgresql": """
        SELECT string_agg(tags.name, ' ' ORDER BY post_tags.position)
        FROM post_tags JOIN tags
            ON tags.tenant_id = post_tags.tenant_id AND tags.id = post_tags.tag_id
        WHERE post_tags.tenant_id = posts.tenant_id AND post_tags.post_id = posts.id
    """,
    "sqlite": """
        SELECT group_concat(name, ' ') FROM (
            SELECT tags.name FROM post_tags JOIN tags
                ON tags.tenant_id = post_tags.tenant_id AND tags.id = post_tags.tag_id
            WHERE post_tags.tenant_id = posts.tenant_id AND post_tags.post_id = posts.id
            ORDER BY post_tags.position
        )
    """,
}


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    if postgresql:
        op.execute("SELECT set_config('app.cross_tenant', 'building the search index', true)")
    op.add_column(
        "tenants",
        sa.Column(
            "search_language", sa.String(length=32), nullable=False, server_default="english"
        ),
    )
    op.add_column("posts", sa.Column("search_tags", sa.Text(), nullable=False, server_default=""))
    tag_names = TAG_NAMES[op.get_context().dialect.name]
    op.execute(
        f"UPDATE posts SET search_tags = coalesce(({tag_names}), '')"  # noqa: S608 - constant
        " WHERE EXISTS (SELECT 1 FROM post_tags"
        " WHERE post_tags.tenant_id = posts.tenant_id AND post_tags.post_id = posts.id)"
    )
    if postgresql:
        op.execute("ALTER TABLE posts ADD COLUMN search_summary tsvector")
        op.execute("ALTER TABLE posts ADD COLUMN search_vector tsvector")
        parts = {"language": "tenants.search_language::regconfig", "row": "posts"}
        summary, body = POSTGRESQL_SUMMARY.format(**parts), POSTGRESQL_BODY.format(**parts)
        op.execute(
            f"UPDATE posts SET search_summary = {summary},"  # noqa: S608 - constant text
            f" search_vector = {summary} || {body}"
            " FROM tenants WHERE tenants.id = posts.tenant_id"
        )
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(
            "CREATE TRIGGER posts_search_vector BEFORE INSERT OR UPDATE OF "
            f"{', '.join(SEARCHED)} ON posts "
            "FOR EACH ROW EXECUTE FUNCTION posts_search_vector()"
        )
        # tenant_id in the index too (btree_gin), so a search reads one blog's entries only.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute(
            "CREATE INDEX ix_posts_search_vector ON posts USING gin (tenant_id, search_vector)"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE posts_search USING fts5("
        f"{', '.join(SEARCHED)}, content='posts', content_rowid='rowid', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    # The rank of a match: where a word is found weighs (title, tags, description, body).
    op.execute(
        "INSERT INTO posts_search (posts_search, rank) VALUES ('rank', 'bm25(10.0, 5.0, 2.0, 1.0)')"
    )
    op.execute("INSERT INTO posts_search (posts_search) VALUES ('rebuild')")
    for name, definition in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_posts_search_vector")
        op.execute("DROP TRIGGER posts_search_vector ON posts")
        op.execute("DROP FUNCTION posts_search_vector()")
        op.drop_column("posts", "search_vector")
        op.drop_column("posts", "search_summary")
        op.drop_column("posts", "search_tags")
        op.drop_column("tenants", "search_language")
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE posts_search")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("search_tags")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("search_language")
