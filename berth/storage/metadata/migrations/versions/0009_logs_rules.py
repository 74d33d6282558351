"""cloudwatch logs and eventbridge rules

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _ordered_text(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "log_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", _ordered_text(512), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retention_in_days", sa.Integer(), nullable=True),
        sa.Column("kms_key_id", sa.String(length=256), nullable=True),
        sa.Column("log_group_class", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_log_groups_name"),
    )
    op.create_table(
        "log_streams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("log_group_id", sa.Integer(), nullable=False),
        sa.Column("name", _ordered_text(512), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("first_event_at", sa.BigInteger(), nullable=True),
        sa.Column("last_event_at", sa.BigInteger(), nullable=True),
        sa.Column("last_ingestion_at", sa.BigInteger(), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sequence", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["log_group_id"], ["log_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("log_group_id", "name", name="uq_log_streams_name"),
    )
    op.create_table(
        "log_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("log_group_id", sa.Integer(), nullable=False),
        sa.Column("log_stream_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("ingestion_time", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["log_group_id"], ["log_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["log_stream_id"], ["log_streams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("log_group_id", "event_key", name="uq_log_events_key"),
    )
    with op.batch_alter_table("log_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_log_events_stream", ["log_stream_id", "timestamp", "id"], unique=False
        )
        batch_op.create_index(
            "ix_log_events_group", ["log_group_id", "timestamp", "id"], unique=False
        )
    op.create_table(
        "eventbridge_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("event_bus", sa.String(length=256), nullable=False),
        sa.Column("name", _ordered_text(64), nullable=False),
        sa.Column("event_pattern", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("role_arn", sa.String(length=1600), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "account_id", "region", "event_bus", "name", name="uq_eventbridge_rules"
        ),
    )
    op.create_table(
        "eventbridge_targets",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("target_id", _ordered_text(64), nullable=False),
        sa.Column("arn", sa.String(length=1600), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["eventbridge_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "target_id"),
    )


def downgrade() -> None:
    op.drop_table("eventbridge_targets")
    op.drop_table("eventbridge_rules")
    with op.batch_alter_table("log_events", schema=None) as batch_op:
        batch_op.drop_index("ix_log_events_group")
        batch_op.drop_index("ix_log_events_stream")
    op.drop_table("log_events")
    op.drop_table("log_streams")
    op.drop_table("log_groups")
