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


def upgrade() -> None:
    op.create_index("ix_threads_tenant_seq", "threads", ["tenant", "seq"])
    op.drop_index("ix_threads_tenant", table_name="threads")


def downgrade() -> None:
    op.create_index("ix_threads_tenant", "threads", ["tenant"])
    op.drop_index("ix_threads_tenant_seq", table_name="threads")
