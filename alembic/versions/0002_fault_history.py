"""Fault history: each DM_RV fault's life (first seen, occurrences, lamps, when it cleared).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the fault_history table."""
    op.create_table(
        "fault_history",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.String(100), nullable=False),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("dsa", sa.Integer(), nullable=True),
        sa.Column("dsa_extension", sa.Integer(), nullable=True),
        sa.Column("spn_raw", sa.Integer(), nullable=False),
        sa.Column("fmi", sa.Integer(), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), nullable=True),
        sa.Column("red_lamp", sa.Boolean(), nullable=False),
        sa.Column("yellow_lamp", sa.Boolean(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("cleared_at", sa.Float(), nullable=True),
        sa.Column("cleared_reason", sa.String(30), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fault_history"),
    )
    op.create_index(
        "ix_fault_history_fault_id_first_seen", "fault_history", ["fault_id", "first_seen"]
    )
    op.create_index("ix_fault_history_first_seen", "fault_history", ["first_seen"])
    op.create_index("ix_fault_history_cleared_at", "fault_history", ["cleared_at"])


def downgrade() -> None:
    """Drop the fault_history table."""
    op.drop_index("ix_fault_history_cleared_at", table_name="fault_history")
    op.drop_index("ix_fault_history_first_seen", table_name="fault_history")
    op.drop_index("ix_fault_history_fault_id_first_seen", table_name="fault_history")
    op.drop_table("fault_history")
