"""the public list's keys in one index; every published post dated

Revision ID: 5d1e7a3c9b20
Revises: 3105ec78c322
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d1e7a3c9b20"
down_revision: str | None = "3105ec78c322"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = "ix_posts_tenant_id_status_published_at"
NEW_INDEX = "ix_posts_tenant_id_status_published_at_id"


def upgrade() -> None:
    # The list orders published posts by (published_at, id); with id in the index, a page's
    # keys (and a cursor's position) come from the index alone. Published posts imported
    # without a time get their creation time, so that every listed post has a key.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('app.cross_tenant', 'dating published posts', true)")
    op.execute(
        "UPDATE posts SET published_at = created_at "
        "WHERE status = 'published' AND published_at IS NULL"
    )
    op.create_index(NEW_INDEX, "posts", ["tenant_id", "status", "published_at", "id"])
    op.drop_index(OLD_INDEX, table_name="posts")


def downgrade() -> None:
    op.create_index(OLD_INDEX, "posts", ["tenant_id", "status", "published_at"])
    op.drop_index(NEW_INDEX, table_name="posts")
