"""Runs: an `execution` document for what executing a run needs and the API does not show
(reasoning effort, the provider-side transcript of tool calls, usage so far).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Body = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("runs", sa.Column("execution", Body, nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "execution")
