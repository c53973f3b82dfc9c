"""rate limit hits

Revision ID: 2e990686696a
Revises: c3a1f0e5b7d2
Create Date: 2026-11-25 08:29:28.334692
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2e990686696a"
down_revision: str | None = "c3a1f0e5b7d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_hits")),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_hits")
