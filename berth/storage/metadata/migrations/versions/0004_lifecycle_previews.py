"""lifecycle policy previews

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_previews",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expiring_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id"),
    )
    op.create_table(
        "lifecycle_preview_results",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=200), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["lifecycle_previews.repository_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repository_id", "digest"),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_preview_results")
    op.drop_table("lifecycle_previews")
