from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from berth.domain import media_types as mt
from berth.domain.manifests import MAX_MANIFEST_BYTES, parse_manifest
from berth.errors import ManifestInvalid, ManifestTooLarge, ManifestUnsupported


def d(data: bytes, media_type: str = "application/octet-stream", **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
        **extra,
    }


def image(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": d(b"{}", "application/vnd.oci.image.config.v1+json"),
        "layers": [d(b"l1", "application/vnd.oci.image.layer.v1.tar+gzip"), d(b"l2")],
        **extra,
    }


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_image_manifest() -> None:
    parsed = parse_manifest(raw(image()), mt.OCI_MANIFEST)
    assert parsed.media_type == mt.OCI_MANIFEST
    assert not parsed.is_index
    assert [str(x) for x in parsed.required_blobs()] == [
        d(b"{}")["digest"],
        d(b"l1")["digest"],
        d(b"l2")["digest"],
    ]
    assert parsed.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert parsed.subject is None


def test_artifact_with_subject_and_annotations() -> None:
    doc = image(
        artifactType="application/vnd.example",
        subject=d(b"s", mt.OCI_MANIFEST),
        annotations={"a": "b"},
    )
    parsed = parse_manifest(raw(doc), mt.OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example"
    assert str(parsed.subject) == d(b"s")["digest"]
    assert parsed.annotations == {"a": "b"}


def test_index() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [d(b"m1", mt.OCI_MANIFEST), d(b"m2", mt.OCI_MANIFEST)],
    }
    parsed = parse_manifest(raw(doc), mt.OCI_INDEX)
    assert parsed.is_index
    assert parsed.required_blobs() == ()
    assert [str(c.digest) for c in parsed.children] == [d(b"m1")["digest"], d(b"m2")["digest"]]


@pytest.mark.parametrize(
    "content_type", [None, "", "application/json", mt.OCI_MANIFEST + "; charset=utf-8"]
)
def test_media_type_from_body_when_content_type_is_generic(content_type: str | None) -> None:
    assert parse_manifest(raw(image()), content_type).media_type == mt.OCI_MANIFEST


def test_media_type_inferred_without_either() -> None:
    doc = image()
    del doc["mediaType"]
    assert parse_manifest(raw(doc), None).media_type == mt.OCI_MANIFEST
    index = {"schemaVersion": 2, "manifests": []}
    assert parse_manifest(raw(index), None).media_type == mt.OCI_INDEX


def test_media_type_from_content_type_when_body_has_none() -> None:
    doc = image()
    del doc["mediaType"]
    assert parse_manifest(raw(doc), mt.DOCKER_MANIFEST).media_type == mt.DOCKER_MANIFEST


def test_foreign_layers_are_not_required() -> None:
    foreign = d(
        b"f",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        urls=["https://example.invalid/f"],
    )
    doc = image(mediaType=mt.DOCKER_MANIFEST)
    doc["layers"] = [foreign]
    parsed = parse_manifest(raw(doc), mt.DOCKER_MANIFEST)
    assert [str(x) for x in parsed.required_blobs()] == [d(b"{}")["digest"]]


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        (image(), mt.DOCKER_MANIFEST),
        (image(mediaType=mt.OCI_INDEX), mt.OCI_INDEX),
        ({"schemaVersion": 1, "fsLayers": []}, mt.OCI_MANIFEST),
        (image(), "application/vnd.docker.distribution.manifest.v1+prettyjws"),
        (image(schemaVersion=3), mt.OCI_MANIFEST),
        (image(schemaVersion="2"), mt.OCI_MANIFEST),
        (image(config=None), mt.OCI_MANIFEST),
        (image(config={"mediaType": "x", "digest": "sha256:1", "size": 1}), mt.OCI_MANIFEST),
        (
            image(config={"mediaType": "x", "digest": d(b"")["digest"], "size": True}),
            mt.OCI_MANIFEST,
        ),
        (image(config={"mediaType": "", "digest": d(b"")["digest"], "size": 0}), mt.OCI_MANIFEST),
        (image(layers={}), mt.OCI_MANIFEST),
        (image(layers=["x"]), mt.OCI_MANIFEST),
        (image(manifests=[]), mt.OCI_MANIFEST),
        (image(annotations={"a": 1}), mt.OCI_MANIFEST),
        (image(artifactType=5), mt.OCI_MANIFEST),
        (image(mediaType=7), mt.OCI_MANIFEST),
        (image(subject="sha256:abc"), mt.OCI_MANIFEST),
        (
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "layers": []},
            mt.OCI_INDEX,
        ),
        ({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": "x"}, mt.OCI_INDEX),
        ([1, 2], mt.OCI_MANIFEST),
        ("string", mt.OCI_MANIFEST),
    ],
)
def test_invalid(doc: Any, content_type: str) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(raw(doc), content_type)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"nul\x00"])
def test_not_json(body: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, mt.OCI_MANIFEST)


def test_unknown_media_type_is_unsupported() -> None:
    doc = image(mediaType="application/vnd.oci.artifact.manifest.v1+json")
    with pytest.raises(ManifestUnsupported):
        parse_manifest(raw(doc), "application/vnd.oci.artifact.manifest.v1+json")


def test_size_limit() -> None:
    doc = image(annotations={"pad": "x" * MAX_MANIFEST_BYTES})
    with pytest.raises(ManifestTooLarge):
        parse_manifest(raw(doc), mt.OCI_MANIFEST)
