"""Row-level security on every tenant-owned table (PostgreSQL)

Each request's transaction sets ``app.tenant_id`` (``set_config(..., true)``, so it
ends with the transaction); rows of any other tenant are invisible and cannot be
written. Work that spans tenants on purpose sets ``app.cross_tenant`` to a reason
(``blog.tenancy.cross_tenant``). FORCE applies the policies to the tables' owner
too; only superusers and BYPASSRLS roles escape them, and the app must not use one.

Revision ID: c3a1f0e5b7d2
Revises: 09090b30a691
Create Date: 2026-11-25 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c3a1f0e5b7d2"
down_revision: str | None = "09090b30a691"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("users", "refresh_tokens", "tags", "posts", "post_tags", "comments")

# current_setting(..., true) gives '' (not NULL) once a transaction that set it has
# ended, hence NULLIF before the cast.
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
