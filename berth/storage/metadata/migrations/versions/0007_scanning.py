"""image scanning

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulnerabilities",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("modified", sa.String(length=64), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vulnerability_packages",
        sa.Column("ecosystem", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("vulnerability_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["vulnerability_id"], ["vulnerabilities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ecosystem", "name", "vulnerability_id"),
    )
    with op.batch_alter_table("vulnerability_packages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vulnerability_packages_vulnerability", ["vulnerability_id"], unique=False
        )
    op.create_table(
        "image_scans",
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_description", sa.String(length=1024), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("vulnerability_source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("severity_counts", sa.JSON(), nullable=True),
        sa.Column("packages", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("manifest_id"),
    )
    with op.batch_alter_table("image_scans", schema=None) as batch_op:
        batch_op.create_index("ix_image_scans_status", ["status", "requested_at"], unique=False)
    op.create_table(
        "image_scan_findings",
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["manifest_id"], ["image_scans.manifest_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("manifest_id", "ordinal"),
    )
    op.create_table(
        "registry_scanning_configurations",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("scan_type", sa.String(length=16), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "region"),
    )


def downgrade() -> None:
    op.drop_table("registry_scanning_configurations")
    op.drop_table("image_scan_findings")
    with op.batch_alter_table("image_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_image_scans_status")
    op.drop_table("image_scans")
    with op.batch_alter_table("vulnerability_packages", schema=None) as batch_op:
        batch_op.drop_index("ix_vulnerability_packages_vulnerability")
    op.drop_table("vulnerability_packages")
    op.drop_table("vulnerabilities")
