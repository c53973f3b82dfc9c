"""tenant versions row-level security

``tenant_versions`` is tenant-owned (keyed by ``tenant_id``) but was left without
row-level security as "no content": as the app role with no blog bound, every blog's
version was visible, and one ``UPDATE`` moved them all (emptying every blog's response
cache). It gets the policy of every tenant-owned table (see c3a1f0e5b7d2). PostgreSQL only.

Revision ID: 18216812b243
Revises: 5c8e2f4a7b19
Create Date: 2026-12-03 15:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "18216812b243"
down_revision: str | None = "5c8e2f4a7b19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Row-level security as on every tenant-owned table (see c3a1f0e5b7d2).
POLICY = """
    tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
    OR NULLIF(current_setting('app.cross_tenant', true), '') IS NOT NULL
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE tenant_versions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenant_versions FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON tenant_versions USING ({POLICY}) WITH CHECK ({POLICY})"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY tenant_isolation ON tenant_versions")
    op.execute("ALTER TABLE tenant_versions NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenant_versions DISABLE ROW LEVEL SECURITY")
