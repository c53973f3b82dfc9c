"""post revisions and autosaves

``post_revisions`` (a post's title, description, body and tags as each save left them,
capped per post by the app) and ``post_autosaves`` (one working copy per post and
writer). Tenant-owned, with row-level security like every such table.

Revision ID: 3d86cc3985bc
Revises: 18216812b243
Create Date: 2026-12-03 17:32:00.283758
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d86cc3985bc"
down_revision: str | None = "18216812b243"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Row-level security as on every tenant-owned table (see c3a1f0e5b7d2).
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""
TABLES = ("post_revisions", "post_autosaves")


def upgrade() -> None:
    op.create_table(
        "post_autosaves",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"],
            ["posts.tenant_id", "posts.id"],
            name=op.f("fk_post_autosaves_tenant_id_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_post_autosaves_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_post_autosaves_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "post_id", "user_id", name=op.f("pk_post_autosaves")),
    )
    with op.batch_alter_table("post_autosaves", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_post_autosaves_tenant_id_user_id"),
            ["tenant_id", "user_id"],
            unique=False,
        )

    op.create_table(
        "post_revisions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "author_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_post_revisions_tenant_id_author_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "post_id"],
            ["posts.tenant_id", "posts.id"],
            name=op.f("fk_post_revisions_tenant_id_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_post_revisions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_post_revisions")),
    )
    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_post_revisions_tenant_id_author_id"),
            ["tenant_id", "author_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_post_revisions_tenant_id_post_id_created_at_id"),
            ["tenant_id", "post_id", "created_at", "id"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})"
            )


def downgrade() -> None:
    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_revisions_tenant_id_post_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_post_revisions_tenant_id_author_id"))

    op.drop_table("post_revisions")
    with op.batch_alter_table("post_autosaves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_autosaves_tenant_id_user_id"))

    op.drop_table("post_autosaves")
