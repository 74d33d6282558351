"""ecr control plane

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:37:48.292828
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="Active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "region", "name"),
    )
    op.create_table(
        "repository_tags",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", "key"),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "image_tag_mutability",
                sa.String(length=32),
                server_default="MUTABLE",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("mutability_exclusions", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("scan_on_push", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "encryption_type", sa.String(length=16), server_default="AES256", nullable=False
            )
        )
        batch_op.add_column(sa.Column("kms_key", sa.String(length=2048), nullable=True))

    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("config_media_type", sa.String(length=255), nullable=True))

    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_part_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("has_small_part", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("has_small_part")
        batch_op.drop_column("last_part_size")

    with op.batch_alter_table("manifests", schema=None) as batch_op:
        batch_op.drop_column("config_media_type")
        batch_op.drop_column("image_size")

    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("kms_key")
        batch_op.drop_column("encryption_type")
        batch_op.drop_column("scan_on_push")
        batch_op.drop_column("mutability_exclusions")
        batch_op.drop_column("image_tag_mutability")

    op.drop_table("repository_tags")
    op.drop_table("account_settings")
    op.drop_table("access_keys")
    op.drop_table("accounts")
