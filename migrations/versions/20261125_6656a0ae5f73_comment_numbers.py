"""comment numbers

Revision ID: 6656a0ae5f73
Revises: e1bc1912607d
Create Date: 2026-11-25 10:36:29.209865
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6656a0ae5f73"
down_revision: str | None = "e1bc1912607d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Existing comments are numbered per post in order of writing. The owner running this is
# subject to row-level security too (FORCE), so the backfill declares itself cross-tenant.
NUMBER_COMMENTS = """
    UPDATE comments SET number = numbered.n
    FROM (
        SELECT tenant_id, id,
               row_number() OVER (PARTITION BY tenant_id, post_id ORDER BY created_at, id) AS n
        FROM comments
    ) AS numbered
    WHERE comments.tenant_id = numbered.tenant_id AND comments.id = numbered.id
"""
COUNT_COMMENTS = """
    UPDATE posts SET last_comment_number = (
        SELECT count(*) FROM comments
        WHERE comments.tenant_id = posts.tenant_id AND comments.post_id = posts.id
    )
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('app.cross_tenant', 'numbering comments', true)")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_comment_number", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    op.execute(NUMBER_COMMENTS)
    op.execute(COUNT_COMMENTS)
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_comments_tenant_id_post_id_number"), ["tenant_id", "post_id", "number"]
        )


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_comments_tenant_id_post_id_number"), type_="unique")
        batch_op.drop_column("number")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("last_comment_number")
