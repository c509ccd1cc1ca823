"""Threads: index (tenant, seq) instead of (tenant), so the thread list extension
(`GET /v1/x-threads`) reads a page of a tenant's threads in order without sorting them all.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Idempotent, as 0005 is: a database whose mark is behind its schema (an older build's mark
# on a newer schema) is upgraded again without failing.
def upgrade() -> None:
    op.create_index("ix_threads_tenant_seq", "threads", ["tenant", "seq"], if_not_exists=True)
    op.drop_index("ix_threads_tenant", table_name="threads", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_threads_tenant", "threads", ["tenant"], if_not_exists=True)
    op.drop_index("ix_threads_tenant_seq", table_name="threads", if_exists=True)
