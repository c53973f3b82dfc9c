"""tenant versions

Revision ID: 3105ec78c322
Revises: 6656a0ae5f73
Create Date: 2026-11-25 10:54:51.263576
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3105ec78c322"
down_revision: str | None = "6656a0ae5f73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A counter per blog for the response cache (blog/cache.py); no content, so no RLS.
    op.create_table(
        "tenant_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_versions")),
    )


def downgrade() -> None:
    op.drop_table("tenant_versions")
