"""Rows for the metadata store's tests."""

from __future__ import annotations

from berth.storage.ports import NewManifest


def bare_manifest(digest: str) -> NewManifest:
    """A manifest that references nothing, so it can be stored in any repository."""
    return NewManifest(
        digest=digest,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=2,
        content=b"{}",
        artifact_type=None,
        subject=None,
        annotations=None,
        blobs=[],
        children=[],
    )
