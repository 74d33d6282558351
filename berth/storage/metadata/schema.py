"""The metadata schema. Alembic migrations under `migrations/` create exactly these tables."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def ordered_text(length: int) -> sa.types.TypeEngine[str]:
    """Text compared byte-wise, so listings come back in the spec's lexical order everywhere."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", ordered_text(256), nullable=False),
    sa.Column("created_at", timestamp(), nullable=False),
    # ECR settings, stored as the API names them.
    sa.Column("image_tag_mutability", sa.String(32), nullable=False, server_default="MUTABLE"),
    sa.Column("mutability_exclusions", sa.JSON),
    sa.Column("scan_on_push", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("encryption_type", sa.String(16), nullable=False, server_default="AES256"),
    sa.Column("kms_key", sa.String(2048)),
    sa.UniqueConstraint("account_id", "region", "name", name="uq_repositories_name"),
)

# Resource tags of a repository (TagResource); distinct from image tags.
repository_tags = sa.Table(
    "repository_tags",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("created_at", timestamp(), nullable=False),
)

# Secrets are stored sealed with the server key (SigV4 needs them back in the clear).
access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("principal_arn", sa.String(2048), nullable=False),
    sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="Active"),
    sa.Column("created_at", timestamp(), nullable=False),
)

account_settings = sa.Table(
    "account_settings",
    metadata,
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", timestamp(), nullable=False),
)

repository_blobs = sa.Table(
    "repository_blobs",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), sa.ForeignKey("blobs.digest"), primary_key=True),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.Index("ix_repository_blobs_digest", "digest"),
)

manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("artifact_type", sa.String(255)),
    sa.Column("subject_digest", sa.String(200)),
    sa.Column("annotations", sa.JSON),
    sa.Column("size", sa.BigInteger, nullable=False),
    # DescribeImages' imageSizeInBytes: layers for an image, the largest child for an index.
    sa.Column("image_size", sa.BigInteger),
    sa.Column("config_media_type", sa.String(255)),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("pushed_at", timestamp(), nullable=False),
    sa.Column("last_pulled_at", timestamp()),
    sa.UniqueConstraint("repository_id", "digest", name="uq_manifests_digest"),
    sa.Index("ix_manifests_subject", "repository_id", "subject_digest"),
)

# What a manifest references: its config and layers (kind "blob") or, for an index, the
# manifests it lists (kind "manifest"). Garbage collection and delete guards read this.
manifest_references = sa.Table(
    "manifest_references",
    metadata,
    sa.Column(
        "manifest_id",
        sa.Integer,
        sa.ForeignKey("manifests.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Index("ix_manifest_references_digest", "digest", "kind"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", ordered_text(128), primary_key=True),
    sa.Column(
        "manifest_id",
        sa.Integer,
        sa.ForeignKey("manifests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("updated_at", timestamp(), nullable=False),
    sa.Index("ix_tags_manifest", "manifest_id"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
    # ECR's UploadLayerPart rules: every part but the last is at least 5 MiB.
    sa.Column("last_part_size", sa.BigInteger),
    sa.Column("has_small_part", sa.Boolean, nullable=False, server_default=sa.false()),
)

# One lifecycle policy per repository, as ECR stores it: the text exactly as put.
lifecycle_policies = sa.Table(
    "lifecycle_policies",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
    sa.Column("last_evaluated_at", timestamp()),
)

# The last lifecycle policy preview of each repository (Start/GetLifecyclePolicyPreview).
lifecycle_previews = sa.Table(
    "lifecycle_previews",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", timestamp(), nullable=False),
    sa.Column("expiring_count", sa.Integer),
)

lifecycle_preview_results = sa.Table(
    "lifecycle_preview_results",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("lifecycle_previews.repository_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("pushed_at", timestamp(), nullable=False),
    sa.Column("rule_priority", sa.Integer, nullable=False),
)

# IAM: users, groups, roles and managed policies of an account. Names are unique per account
# regardless of case, as in IAM: `name_key` is the lower-cased name, `name` keeps the spelling
# it was created with. Ids are IAM's unique ids (AIDA..., AGPA..., AROA..., ANPA...).
iam_users = sa.Table(
    "iam_users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name_key", ordered_text(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=False),
    sa.Column("tags", sa.JSON),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_users_name"),
)

iam_groups = sa.Table(
    "iam_groups",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name_key", ordered_text(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=False),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_groups_name"),
)

iam_group_members = sa.Table(
    "iam_group_members",
    metadata,
    sa.Column(
        "group_id",
        sa.String(32),
        sa.ForeignKey("iam_groups.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "user_id",
        sa.String(32),
        sa.ForeignKey("iam_users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Index("ix_iam_group_members_user", "user_id"),
)

iam_roles = sa.Table(
    "iam_roles",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name_key", ordered_text(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=False),
    # The trust policy (AssumeRolePolicyDocument), as put.
    sa.Column("trust_policy", sa.Text, nullable=False),
    sa.Column("max_session_duration", sa.Integer, nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("tags", sa.JSON),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_roles_name"),
)

# Customer managed policies; each has one version, v1.
iam_policies = sa.Table(
    "iam_policies",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name_key", ordered_text(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(1024), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("tags", sa.JSON),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
    sa.UniqueConstraint("account_id", "name_key", name="uq_iam_policies_name"),
    sa.Index("ix_iam_policies_arn", "arn"),
)

# Inline policies of users, groups and roles (`principal_type`, `principal_id` is the id of the
# user, group or role). `size` is the document's length without white space, which is what
# IAM's size quotas count.
iam_inline_policies = sa.Table(
    "iam_inline_policies",
    metadata,
    sa.Column("principal_type", sa.String(8), primary_key=True),
    sa.Column("principal_id", sa.String(32), primary_key=True),
    sa.Column("name_key", ordered_text(128), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
)

# Managed policies attached to users, groups and roles.
iam_attachments = sa.Table(
    "iam_attachments",
    metadata,
    sa.Column("principal_type", sa.String(8), primary_key=True),
    sa.Column("principal_id", sa.String(32), primary_key=True),
    sa.Column("policy_id", sa.String(32), sa.ForeignKey("iam_policies.id"), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Index("ix_iam_attachments_policy", "policy_id"),
)

# ECR resource policies: one per repository (SetRepositoryPolicy), one per registry
# (PutRegistryPolicy), stored as the text that was put.
repository_policies = sa.Table(
    "repository_policies",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
)

registry_policies = sa.Table(
    "registry_policies",
    metadata,
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
)
