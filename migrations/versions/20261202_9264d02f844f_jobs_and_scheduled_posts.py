"""jobs and scheduled posts

``jobs`` is the outbox of background work: tenant-owned, with row-level security like
every such table. Posts may now be ``scheduled``: the status's CHECK constraint is
replaced (on SQLite by rebuilding ``posts``, with foreign keys off: see env.py).

Revision ID: 9264d02f844f
Revises: e477d0cb6f65
Create Date: 2026-12-02 21:46:42.104797
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9264d02f844f"
down_revision: str | None = "e477d0cb6f65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Row-level security as on every tenant-owned table (see c3a1f0e5b7d2).
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""
OLD_STATUSES = ("draft", "published")
NEW_STATUSES = ("draft", "published", "scheduled")


def _allow_statuses(statuses: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{status}'" for status in statuses)
    with op.batch_alter_table("posts", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f("ck_posts_post_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_posts_post_status"), f"status IN ({allowed})")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "running",
                "done",
                "failed",
                name="job_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_jobs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("tenant_id", "kind", "key", name=op.f("uq_jobs_tenant_id_kind_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_state_run_at"), ["state", "run_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE jobs FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON jobs USING ({POLICY}) WITH CHECK ({POLICY})")
    _allow_statuses(NEW_STATUSES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT set_config('app.cross_tenant', 'unscheduling posts', true)")
    op.execute("UPDATE posts SET status = 'draft', published_at = NULL WHERE status = 'scheduled'")
    _allow_statuses(OLD_STATUSES)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_state_run_at"))

    op.drop_table("jobs")
