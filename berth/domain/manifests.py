"""Parsing and validation of OCI / Docker schema2 manifests and indexes.

Manifests are stored byte for byte; this module only extracts what the registry must know
(media type, referenced blobs and children, subject, artifact type) and refuses what it
cannot serve faithfully.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from berth.domain import media_types as mt
from berth.domain.digests import Digest, parse_digest
from berth.errors import BerthError, ManifestInvalid, ManifestTooLarge, ManifestUnsupported

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()

    @property
    def is_foreign(self) -> bool:
        return bool(self.urls) and self.media_type.startswith(mt.FOREIGN_LAYER_PREFIXES)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    # What a referrers listing reports: `artifactType`, else the config's media type.
    artifact_type: str | None
    subject: Digest | None
    blobs: tuple[Descriptor, ...]
    children: tuple[Descriptor, ...]
    annotations: dict[str, str] | None

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def config(self) -> Descriptor | None:
        return self.blobs[0] if self.blobs else None

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.blobs[1:]

    def required_blobs(self) -> tuple[Digest, ...]:
        return tuple(d.digest for d in self.blobs if not d.is_foreign)


def parse_manifest(raw: bytes, content_type: str | None) -> Manifest:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest exceeds the limit of {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")

    declared = media_type = mt.essence(content_type)
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise ManifestInvalid("mediaType must be a string")
    if (
        declared in mt.DOCKER_SCHEMA1
        or body_type in mt.DOCKER_SCHEMA1
        or doc.get("schemaVersion") == 1
    ):
        raise ManifestInvalid("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    if body_type and declared not in mt.GENERIC and body_type != declared:
        raise ManifestInvalid(f"mediaType {body_type!r} does not match Content-Type {declared!r}")
    if body_type:
        media_type = body_type
    elif declared in mt.GENERIC:
        media_type = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST
    if media_type not in mt.MANIFESTS:
        raise ManifestUnsupported(f"unsupported manifest media type {media_type!r}")

    subject = _descriptor(doc["subject"], "subject").digest if "subject" in doc else None
    annotations = _annotations(doc.get("annotations"))
    artifact_type = _optional_str(doc, "artifactType")
    if media_type in mt.INDEXES:
        if "config" in doc or "layers" in doc:
            raise ManifestInvalid("an image index has no config or layers")
        children = _descriptors(doc.get("manifests"), "manifests")
        return Manifest(media_type, artifact_type, subject, (), children, annotations)
    if "manifests" in doc:
        raise ManifestInvalid("an image manifest has no manifests list")
    if "config" not in doc:
        raise ManifestInvalid("image manifest lacks config")
    config = _descriptor(doc["config"], "config")
    layers = _descriptors(doc.get("layers"), "layers")
    return Manifest(
        media_type,
        artifact_type or config.media_type,
        subject,
        (config, *layers),
        (),
        annotations,
    )


def _descriptors(value: Any, field: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise ManifestInvalid(f"{field} must be a list")
    return tuple(_descriptor(item, f"{field}[{i}]") for i, item in enumerate(value))


def _descriptor(value: Any, field: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{field} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{field}.mediaType must be a non-empty string")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{field}.size must be a non-negative integer")
    raw_digest = value.get("digest")
    if not isinstance(raw_digest, str):
        raise ManifestInvalid(f"{field}.digest must be a string")
    try:
        digest = parse_digest(raw_digest)
    except BerthError as exc:
        raise ManifestInvalid(f"{field}.digest: {exc.message}") from None
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ManifestInvalid(f"{field}.urls must be a list of strings")
    return Descriptor(media_type, digest, size, _optional_str(value, "artifactType"), tuple(urls))


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ManifestInvalid(f"{key} must be a string")
    return value


def _annotations(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestInvalid("annotations must map strings to strings")
    return value
