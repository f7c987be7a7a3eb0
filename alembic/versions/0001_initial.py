"""Initial schema: entity state and history, overrides, command audit, user settings.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "entity_state",
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=True),
        sa.Column("area", sa.String(200), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("last_updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name="pk_entity_state"),
    )
    op.create_table(
        "entity_history",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entity_history"),
    )
    op.create_index("ix_entity_history_entity_id_ts", "entity_history", ["entity_id", "ts"])
    op.create_index("ix_entity_history_ts", "entity_history", ["ts"])
    op.create_table(
        "entity_override",
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("area", sa.String(200), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", name="pk_entity_override"),
    )
    op.create_table(
        "command_audit",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("command_id", sa.String(100), nullable=True),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("client", sa.String(200), nullable=True),
        sa.Column("user", sa.String(200), nullable=True),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_command_audit"),
    )
    op.create_index("ix_command_audit_command_id", "command_audit", ["command_id"])
    op.create_index("ix_command_audit_entity_id", "command_audit", ["entity_id"])
    op.create_index("ix_command_audit_requested_at", "command_audit", ["requested_at"])
    op.create_table(
        "user_setting",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_user_setting"),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("user_setting")
    op.drop_index("ix_command_audit_requested_at", table_name="command_audit")
    op.drop_index("ix_command_audit_entity_id", table_name="command_audit")
    op.drop_index("ix_command_audit_command_id", table_name="command_audit")
    op.drop_table("command_audit")
    op.drop_table("entity_override")
    op.drop_index("ix_entity_history_ts", table_name="entity_history")
    op.drop_index("ix_entity_history_entity_id_ts", table_name="entity_history")
    op.drop_table("entity_history")
    op.drop_table("entity_state")
