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

# The bytes of small blobs (`services.uploads.INLINE_BLOB_MAX`), kept beside their row and not
# in a file each: storing one costs a few pages of the commit that records it, where a file
# costs an inode, two fsyncs and a rename. Larger blobs live in the blob store.
blob_contents = sa.Table(
    "blob_contents",
    metadata,
    sa.Column(
        "digest",
        sa.String(200),
        sa.ForeignKey("blobs.digest", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("content", sa.LargeBinary, nullable=False),
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

# Image scanning (issue 6). The vulnerability database: OSV records as imported (`record`), and
# which (ecosystem without release, package name as matching asks for it) each one is about.
vulnerabilities = sa.Table(
    "vulnerabilities",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    # OSV's `modified`, as the record has it: an import replaces a record whose text differs.
    sa.Column("modified", sa.String(64)),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("imported_at", timestamp(), nullable=False),
)

vulnerability_packages = sa.Table(
    "vulnerability_packages",
    metadata,
    sa.Column("ecosystem", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column(
        "vulnerability_id",
        sa.String(255),
        sa.ForeignKey("vulnerabilities.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Index("ix_vulnerability_packages_vulnerability", "vulnerability_id"),
)

# One scan per image (manifest); it goes with the image. PENDING rows are the work queue: a
# worker claims one by moving it to IN_PROGRESS and keeps `heartbeat_at` fresh while it scans.
image_scans = sa.Table(
    "image_scans",
    metadata,
    sa.Column(
        "manifest_id",
        sa.Integer,
        sa.ForeignKey("manifests.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_description", sa.String(1024)),
    sa.Column("requested_at", timestamp(), nullable=False),
    sa.Column("started_at", timestamp()),
    sa.Column("heartbeat_at", timestamp()),
    sa.Column("completed_at", timestamp()),
    sa.Column("worker", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("vulnerability_source_updated_at", timestamp()),
    # {severity: count} of the last completed scan, and its package inventory (for SBOMs).
    sa.Column("severity_counts", sa.JSON),
    sa.Column("packages", sa.JSON),
    sa.Index("ix_image_scans_status", "status", "requested_at"),
)

image_scan_findings = sa.Table(
    "image_scan_findings",
    metadata,
    sa.Column(
        "manifest_id",
        sa.Integer,
        sa.ForeignKey("image_scans.manifest_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("ordinal", sa.Integer, primary_key=True),  # most severe first
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("uri", sa.String(2048)),
    sa.Column("description", sa.Text),
    sa.Column("attributes", sa.JSON, nullable=False),
)

# PutRegistryScanningConfiguration, per registry.
registry_scanning_configurations = sa.Table(
    "registry_scanning_configurations",
    metadata,
    sa.Column(
        "account_id",
        sa.String(12),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("scan_type", sa.String(16), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("updated_at", timestamp(), nullable=False),
)

# The transactional outbox: events are written in the transaction of the change they describe,
# numbered in commit order, and delivered to each target from its own cursor.
events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

event_targets = sa.Table(
    "event_targets",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("cursor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", timestamp()),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failed", sa.BigInteger, nullable=False, server_default="0"),
)

event_dead_letters = sa.Table(
    "event_dead_letters",
    metadata,
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("failed_at", timestamp(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
)

# The audit trail: one CloudTrail-shaped record per call, with the lookup attributes as columns.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("event_time", timestamp(), nullable=False),
    sa.Column("event_name", sa.String(128), nullable=False),
    sa.Column("event_source", sa.String(128), nullable=False),
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("username", sa.String(256)),
    sa.Column("access_key_id", sa.String(128)),
    sa.Column("resource_type", sa.String(128)),
    sa.Column("resource_name", sa.String(2048)),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index("ix_audit_events_time", "account_id", "event_time"),
)


# CloudWatch Logs (issue 7): log groups of an account and region, their streams and events.
# Times are epoch milliseconds, as the Logs API speaks them. `log_events.event_key` is set by
# EventBridge deliveries (the event's id): one event is stored once per log group however often
# delivery repeats it.
log_groups = sa.Table(
    "log_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", ordered_text(512), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("retention_in_days", sa.Integer),
    sa.Column("kms_key_id", sa.String(256)),
    sa.Column("log_group_class", sa.String(32), nullable=False),
    sa.Column("tags", sa.JSON),
    sa.UniqueConstraint("account_id", "region", "name", name="uq_log_groups_name"),
)

log_streams = sa.Table(
    "log_streams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "log_group_id",
        sa.Integer,
        sa.ForeignKey("log_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", ordered_text(512), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("first_event_at", sa.BigInteger),
    sa.Column("last_event_at", sa.BigInteger),
    sa.Column("last_ingestion_at", sa.BigInteger),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False, server_default="0"),
    # PutLogEvents calls so far: the (ignored) sequence token Berth hands back.
    sa.Column("sequence", sa.BigInteger, nullable=False, server_default="0"),
    sa.UniqueConstraint("log_group_id", "name", name="uq_log_streams_name"),
)

log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "log_group_id",
        sa.Integer,
        sa.ForeignKey("log_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "log_stream_id",
        sa.Integer,
        sa.ForeignKey("log_streams.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion_time", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("event_key", sa.String(128)),
    sa.UniqueConstraint("log_group_id", "event_key", name="uq_log_events_key"),
    sa.Index("ix_log_events_stream", "log_stream_id", "timestamp", "id"),
    sa.Index("ix_log_events_group", "log_group_id", "timestamp", "id"),
)

# EventBridge rules on the default bus, and their targets as put (`spec`, for
# ListTargetsByRule). Named apart from the outbox's own `events`/`event_targets`.
eventbridge_rules = sa.Table(
    "eventbridge_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("event_bus", sa.String(256), nullable=False),
    sa.Column("name", ordered_text(64), nullable=False),
    sa.Column("event_pattern", sa.Text),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("description", sa.String(512)),
    sa.Column("role_arn", sa.String(1600)),
    sa.Column("tags", sa.JSON),
    sa.Column("created_at", timestamp(), nullable=False),
    sa.UniqueConstraint("account_id", "region", "event_bus", "name", name="uq_eventbridge_rules"),
)

eventbridge_targets = sa.Table(
    "eventbridge_targets",
    metadata,
    sa.Column(
        "rule_id",
        sa.Integer,
        sa.ForeignKey("eventbridge_rules.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("target_id", ordered_text(64), primary_key=True),
    sa.Column("arn", sa.String(1600), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
)
