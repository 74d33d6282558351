"""Small builders for API tests: blobs, manifests, pushes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(client: httpx.Client, name: str, data: bytes) -> str:
    digest = sha256(data)
    response = client.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def image_manifest(
    config: bytes, layers: list[bytes], media_type: str = OCI_MANIFEST, **extra: Any
) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(CONFIG, config),
        "layers": [descriptor(LAYER, layer) for layer in layers],
        **extra,
    }
    return json.dumps(doc).encode()


def push_image(
    client: httpx.Client, name: str, reference: str, seed: bytes = b"a", **extra: Any
) -> tuple[str, bytes]:
    """Push a config and two layers, then the manifest; returns (digest, manifest bytes)."""
    config = b'{"architecture":"amd64","os":"linux","seed":"' + seed + b'"}'
    layers = [b"layer-one-" + seed, b"layer-two-" + seed]
    for blob in (config, *layers):
        push_blob(client, name, blob)
    manifest = image_manifest(config, layers, **extra)
    response = client.put(
        f"/v2/{name}/manifests/{reference}",
        content=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"], manifest


def error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["code"])
