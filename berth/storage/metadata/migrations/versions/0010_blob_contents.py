"""small blobs' bytes in the database

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_contents",
        sa.Column("digest", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["digest"], ["blobs.digest"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest"),
    )


def downgrade() -> None:
    # Blobs whose bytes only the table held would be left without them: refuse instead.
    if op.get_bind().execute(sa.text("SELECT 1 FROM blob_contents LIMIT 1")).first():
        raise RuntimeError("blob_contents holds blobs; downgrading would lose them")
    op.drop_table("blob_contents")
