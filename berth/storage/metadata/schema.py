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
    sa.UniqueConstraint("account_id", "region", "name", name="uq_repositories_name"),
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
)
