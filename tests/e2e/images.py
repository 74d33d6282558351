"""Deterministic OCI image layouts built in Python, for feeding real clients (skopeo, …).

An OCI image layout is a directory with an `oci-layout` file, an `index.json` and the blobs
under `blobs/sha256/<hex>`. Everything here is reproducible: layers are tarballs of seeded
pseudo-random files with fixed metadata, gzip-compressed with a zero mtime.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from pathlib import Path
from typing import Any

from tests.api.helpers import CONFIG, LAYER, OCI_INDEX, OCI_MANIFEST, sha256

OCI_CONFIG = CONFIG
OCI_LAYER_GZIP = LAYER
REF_NAME = "org.opencontainers.image.ref.name"

_VARIANTS = {"arm64": "v8", "arm": "v7"}


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hex_digest


def read_blob(layout: Path, digest: str) -> bytes:
    return blob_path(layout, digest).read_bytes()


def read_index(layout: Path) -> dict[str, Any]:
    """The layout's own `index.json`."""
    return json.loads((layout / "index.json").read_text())


def top_descriptor(layout: Path) -> dict[str, Any]:
    """The single descriptor `index.json` lists (what `oci:<dir>:<tag>` resolves to)."""
    manifests = read_index(layout)["manifests"]
    assert len(manifests) == 1, manifests
    return dict(manifests[0])


def verify_blobs(layout: Path) -> dict[str, bytes]:
    """Every blob of the layout, keyed by digest, after checking each hashes to its name."""
    found: dict[str, bytes] = {}
    for path in sorted((layout / "blobs" / "sha256").iterdir()):
        data = path.read_bytes()
        digest = f"sha256:{path.name}"
        assert sha256(data) == digest, f"{path} does not hash to its name"
        found[digest] = data
    return found


def _write_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=False).encode()


def _layer_tar(rng: random.Random, number: int, files: int = 3) -> bytes:
    """An uncompressed tar of a directory holding a few small random files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(f"layer{number}")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        directory.mtime = 1_700_000_000
        tar.addfile(directory)
        for index in range(files):
            data = rng.randbytes(rng.randint(64, 2048))
            info = tarfile.TarInfo(f"layer{number}/file{index}.bin")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as stream:
        stream.write(data)
    return buffer.getvalue()


def _platform(arch: str, os_name: str) -> dict[str, str]:
    platform = {"architecture": arch, "os": os_name}
    if arch in _VARIANTS:
        platform["variant"] = _VARIANTS[arch]
    return platform


def _write_image(
    layout: Path, *, layers: int, arch: str, os_name: str, seed: int
) -> dict[str, Any]:
    """Write config, layers and manifest blobs; return the manifest's descriptor."""
    rng = random.Random(f"{seed}-{arch}-{os_name}-{layers}")
    layer_descriptors = []
    diff_ids = []
    for number in range(layers):
        tar = _layer_tar(rng, number)
        compressed = _gzip(tar)
        diff_ids.append(sha256(tar))
        layer_descriptors.append(
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": _write_blob(layout, compressed),
                "size": len(compressed),
            }
        )
    config = {
        "created": "2024-01-01T00:00:00Z",
        **_platform(arch, os_name),
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "Cmd": ["/bin/true"],
            "Labels": {"berth.test.seed": str(seed)},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(layers)
        ],
    }
    config_bytes = _canonical(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": _write_blob(layout, config_bytes),
            "size": len(config_bytes),
        },
        "layers": layer_descriptors,
        "annotations": {"org.opencontainers.image.description": f"berth e2e {arch}"},
    }
    manifest_bytes = _canonical(manifest)
    return {
        "mediaType": OCI_MANIFEST,
        "digest": _write_blob(layout, manifest_bytes),
        "size": len(manifest_bytes),
        "platform": _platform(arch, os_name),
    }


def _write_layout(layout: Path, descriptor: dict[str, Any], tag: str) -> None:
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    entry = {**descriptor, "annotations": {REF_NAME: tag}}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    (layout / "index.json").write_bytes(_canonical(index))


def build_image_layout(
    path: Path,
    layers: int = 3,
    arch: str = "amd64",
    *,
    os_name: str = "linux",
    tag: str = "latest",
    seed: int = 0,
) -> str:
    """An OCI layout at `path` holding one image tagged `tag`; returns the manifest digest."""
    path.mkdir(parents=True, exist_ok=True)
    descriptor = _write_image(path, layers=layers, arch=arch, os_name=os_name, seed=seed)
    descriptor.pop("platform")
    _write_layout(path, descriptor, tag)
    return str(descriptor["digest"])


def build_index_layout(
    path: Path,
    arches: tuple[str, ...] = ("amd64", "arm64"),
    *,
    layers: int = 2,
    os_name: str = "linux",
    tag: str = "latest",
    seed: int = 0,
) -> str:
    """An OCI layout at `path` holding a multi-arch image index tagged `tag`, each platform
    manifest with its own config and layers; returns the index digest."""
    path.mkdir(parents=True, exist_ok=True)
    children = [
        _write_image(path, layers=layers, arch=arch, os_name=os_name, seed=seed) for arch in arches
    ]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    index_bytes = _canonical(index)
    descriptor = {
        "mediaType": OCI_INDEX,
        "digest": _write_blob(path, index_bytes),
        "size": len(index_bytes),
    }
    _write_layout(path, descriptor, tag)
    return str(descriptor["digest"])
