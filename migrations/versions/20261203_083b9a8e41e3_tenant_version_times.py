"""tenant version times

``tenant_versions.changed_at``: when a blog's content version last moved, the
``Last-Modified`` of its feeds and sitemaps. Null until the blog's next change (an
unknown time is left out rather than guessed). Not tenant content: no row-level security,
like the table it joins.

Revision ID: 083b9a8e41e3
Revises: 9264d02f844f
Create Date: 2026-12-03 06:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "083b9a8e41e3"
down_revision: str | None = "9264d02f844f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenant_versions", sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("tenant_versions") as batch_op:
        batch_op.drop_column("changed_at")
