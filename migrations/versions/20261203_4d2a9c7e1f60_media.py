"""media

``media`` holds each blog's uploaded images: their metadata and the storage keys of the
original and its variants (the files themselves are in the media storage). Tenant-owned,
with row-level security like every such table.

Revision ID: 4d2a9c7e1f60
Revises: 3d86cc3985bc
Create Date: 2026-12-03 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d2a9c7e1f60"
down_revision: str | None = "3d86cc3985bc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Row-level security as on every tenant-owned table (see c3a1f0e5b7d2).
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "post",
                "avatar",
                name="media_purpose",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("alt", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "uploaded_by"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_media_tenant_id_uploaded_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_media_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_tenant_id_created_at_id"), ["tenant_id", "created_at", "id"]
        )
        batch_op.create_index(batch_op.f("ix_media_tenant_id_sha256"), ["tenant_id", "sha256"])
        batch_op.create_index(
            batch_op.f("ix_media_tenant_id_uploaded_by"), ["tenant_id", "uploaded_by"]
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE media ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE media FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON media USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_tenant_id_uploaded_by"))
        batch_op.drop_index(batch_op.f("ix_media_tenant_id_sha256"))
        batch_op.drop_index(batch_op.f("ix_media_tenant_id_created_at_id"))
    op.drop_table("media")
