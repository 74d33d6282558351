"""Media types of the manifests Berth stores."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFESTS = IMAGE_MANIFESTS | INDEXES

# Content types a client may send that say nothing about the manifest's kind.
GENERIC = frozenset({"", "application/json", "application/octet-stream"})

# Layers that may live outside the registry (Docker foreign layers, OCI non-distributable).
FOREIGN_LAYER_PREFIXES = (
    "application/vnd.docker.image.rootfs.foreign.",
    "application/vnd.oci.image.layer.nondistributable.",
)


def essence(content_type: str | None) -> str:
    """The media type without parameters, lower-cased (`a/b; charset=x` → `a/b`)."""
    return (content_type or "").split(";", 1)[0].strip().lower()
