"""IAM users, groups, roles and policies

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ordered_text(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _account() -> sa.Column[str]:
    return sa.Column("account_id", sa.String(length=12), nullable=False)


def _account_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "iam_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        _account(),
        sa.Column("name_key", _ordered_text(64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_users_name"),
    )
    op.create_table(
        "iam_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        _account(),
        sa.Column("name_key", _ordered_text(128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_groups_name"),
    )
    op.create_table(
        "iam_group_members",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["iam_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["iam_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "user_id"),
    )
    with op.batch_alter_table("iam_group_members", schema=None) as batch_op:
        batch_op.create_index("ix_iam_group_members_user", ["user_id"], unique=False)

    op.create_table(
        "iam_roles",
        sa.Column("id", sa.String(length=32), nullable=False),
        _account(),
        sa.Column("name_key", _ordered_text(64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("trust_policy", sa.Text(), nullable=False),
        sa.Column("max_session_duration", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_roles_name"),
    )
    op.create_table(
        "iam_policies",
        sa.Column("id", sa.String(length=32), nullable=False),
        _account(),
        sa.Column("name_key", _ordered_text(128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name_key", name="uq_iam_policies_name"),
    )
    with op.batch_alter_table("iam_policies", schema=None) as batch_op:
        batch_op.create_index("ix_iam_policies_arn", ["arn"], unique=False)

    op.create_table(
        "iam_inline_policies",
        sa.Column("principal_type", sa.String(length=8), nullable=False),
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("name_key", _ordered_text(128), nullable=False),
        _account(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _account_fk(),
        sa.PrimaryKeyConstraint("principal_type", "principal_id", "name_key"),
    )
    op.create_table(
        "iam_attachments",
        sa.Column("principal_type", sa.String(length=8), nullable=False),
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        _account(),
        _account_fk(),
        sa.ForeignKeyConstraint(["policy_id"], ["iam_policies.id"]),
        sa.PrimaryKeyConstraint("principal_type", "principal_id", "policy_id"),
    )
    with op.batch_alter_table("iam_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_iam_attachments_policy", ["policy_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("iam_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_attachments_policy")
    op.drop_table("iam_attachments")
    op.drop_table("iam_inline_policies")
    with op.batch_alter_table("iam_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_policies_arn")
    op.drop_table("iam_policies")
    op.drop_table("iam_roles")
    with op.batch_alter_table("iam_group_members", schema=None) as batch_op:
        batch_op.drop_index("ix_iam_group_members_user")
    op.drop_table("iam_group_members")
    op.drop_table("iam_groups")
    op.drop_table("iam_users")
