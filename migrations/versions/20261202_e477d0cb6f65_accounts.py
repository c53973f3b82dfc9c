"""accounts: sessions, mailed links, verification and lockout

Every login becomes a row of ``auth_sessions`` (its refresh tokens' family), so members
can list and end them; existing families become sessions. ``account_tokens`` holds the
hashes of mailed single-use links. Both get row-level security like every tenant-owned
table. Existing members start unverified: nobody has proven an address yet.

Revision ID: e477d0cb6f65
Revises: 5d1e7a3c9b20
Create Date: 2026-12-02 18:13:39.899772
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e477d0cb6f65"
down_revision: str | None = "5d1e7a3c9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Row-level security as on every tenant-owned table (see c3a1f0e5b7d2).
RLS_TABLES = ("account_tokens", "auth_sessions")
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""

# One session per refresh-token family: made at its first token, used at its last, ended
# when none of its tokens is still usable.
SESSIONS_FROM_FAMILIES = """
    INSERT INTO auth_sessions (tenant_id, id, user_id, created_at, last_used_at, ended_at)
    SELECT tenant_id, family_id, user_id, min(created_at), max(created_at),
           CASE WHEN count(*) FILTER (WHERE revoked_at IS NULL AND used_at IS NULL) = 0
                THEN max(coalesce(revoked_at, used_at)) END
    FROM refresh_tokens GROUP BY tenant_id, family_id, user_id
"""


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "account_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "verify_email",
                "reset_password",
                "change_email",
                name="link_purpose",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_account_tokens_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_account_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_account_tokens_tenant_id_token_hash")
        ),
    )
    op.create_index(
        op.f("ix_account_tokens_tenant_id_user_id_purpose"),
        "account_tokens",
        ["tenant_id", "user_id", "purpose"],
        unique=False,
    )
    op.create_table(
        "auth_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_auth_sessions_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_auth_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(
        op.f("ix_auth_sessions_tenant_id_user_id"),
        "auth_sessions",
        ["tenant_id", "user_id"],
        unique=False,
    )
    if postgresql:
        op.execute("SELECT set_config('app.cross_tenant', 'sessions from token families', true)")
    op.execute(SESSIONS_FROM_FAMILIES)
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_refresh_tokens_tenant_id_family_id_auth_sessions"),
            "auth_sessions",
            ["tenant_id", "family_id"],
            ["tenant_id", "id"],
            ondelete="CASCADE",
        )
    # Plain ADD COLUMN on SQLite too: rebuilding tenants or users (batch mode) would drop
    # the table, and with foreign keys on, every row that cascades from it.
    op.add_column(
        "tenants",
        sa.Column(
            "require_verified_email", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    op.add_column(
        "tenants", sa.Column("lockout_threshold", sa.Integer(), nullable=False, server_default="5")
    )
    op.add_column("tenants", sa.Column("frontend_url", sa.String(length=2000), nullable=True))
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users", sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
    )
    if postgresql:
        for table in RLS_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})"
            )


def downgrade() -> None:
    # Policies go with their tables. DROP COLUMN, like ADD COLUMN, rebuilds nothing.
    for column in ("token_generation", "locked_until", "failed_logins", "email_verified_at"):
        op.drop_column("users", column)
    for column in ("frontend_url", "lockout_threshold", "require_verified_email"):
        op.drop_column("tenants", column)
    with op.batch_alter_table("refresh_tokens") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_refresh_tokens_tenant_id_family_id_auth_sessions"), type_="foreignkey"
        )
    op.drop_index(op.f("ix_auth_sessions_tenant_id_user_id"), table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_index(op.f("ix_account_tokens_tenant_id_user_id_purpose"), table_name="account_tokens")
    op.drop_table("account_tokens")
