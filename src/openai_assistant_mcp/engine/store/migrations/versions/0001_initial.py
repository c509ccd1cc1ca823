"""Initial schema: assistants, threads, messages, runs, run steps.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Body = sa.JSON().with_variant(JSONB(), "postgresql")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("tenant", sa.String(64), nullable=False),
    ]


def _thread_fk() -> sa.Column[str]:
    return sa.Column(
        "thread_id", sa.String(64), sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "assistants",
        *_common(),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", Body, nullable=False),
    )
    op.create_index("ix_assistants_tenant_seq", "assistants", ["tenant", "seq"])
    op.create_table(
        "threads",
        *_common(),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", Body, nullable=False),
    )
    op.create_index("ix_threads_tenant", "threads", ["tenant"])
    op.create_table(
        "messages",
        *_common(),
        _thread_fk(),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", Body, nullable=False),
    )
    op.create_index("ix_messages_thread_seq", "messages", ["thread_id", "seq"])
    op.create_index("ix_messages_thread_run", "messages", ["thread_id", "run_id"])
    op.create_table(
        "runs",
        *_common(),
        _thread_fk(),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("body", Body, nullable=False),
    )
    op.create_index("ix_runs_thread_seq", "runs", ["thread_id", "seq"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "run_steps",
        *_common(),
        _thread_fk(),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", Body, nullable=False),
    )
    op.create_index("ix_run_steps_run_seq", "run_steps", ["run_id", "seq"])


def downgrade() -> None:
    for table in ("run_steps", "runs", "messages", "threads", "assistants"):
        op.drop_table(table)
