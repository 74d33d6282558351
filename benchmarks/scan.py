"""Scanner benchmark: a ~1 GB image with a few thousand packages against a large generated OSV
database, through a real `berth serve`.

    .venv/bin/python benchmarks/scan.py [--size-mb 1024] [--packages 3000] [--advisories 60000]

Steps, each timed: generate the image's layers (streamed to files, gzip level 1) and an OSV
`all.zip`-style export; `berth vulndb import` it into the serving installation (SQLite); push
the image over /v2/; StartImageScan and poll until COMPLETE. Reports wall times, the findings,
and the server's peak RSS (VmHWM) before and after the scan.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROOT_KEY_ID, ROOT_SECRET, free_port, registry_password  # noqa: E402

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SITE = "usr/local/lib/python3.11/site-packages"


def _add(tar: tarfile.TarFile, path: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _layer(path: Path, fill: Iterator[tuple[str, bytes]]) -> tuple[str, int]:
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as stream,
        tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in fill:
            _add(tar, name, data)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest(), path.stat().st_size


def generate_image(folder: Path, size_mb: int, packages: int, rng: random.Random) -> dict[str, Any]:
    """Layers: the OS (dpkg status with `packages` entries), Python and npm packages (a third of
    `packages` each), then incompressible filler up to `size_mb`."""
    debs = [
        (f"libdeb{i}", f"src{i // 3}", f"1.{i % 7}.{i % 11}-{1 + i % 3}") for i in range(packages)
    ]
    status = "\n".join(
        f"Package: {name}\nStatus: install ok installed\nSource: {source}\nVersion: {version}\n"
        f"Architecture: amd64\nDescription: generated\n"
        for name, source, version in debs
    )
    os_release = b'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\nVERSION_ID="12"\n'
    pythons = [(f"pkg-{i}", f"{i % 5}.{i % 13}.{i % 3}") for i in range(packages // 3)]
    npms = [(f"npmpkg{i}", f"{i % 4}.{i % 9}.{i % 6}") for i in range(packages // 3)]

    def os_files() -> Iterator[tuple[str, bytes]]:
        yield "etc/os-release", os_release
        yield "var/lib/dpkg/status", status.encode()

    def language_files() -> Iterator[tuple[str, bytes]]:
        for name, version in pythons:
            metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nText\n"
            yield f"{SITE}/{name.replace('-', '_')}-{version}.dist-info/METADATA", metadata.encode()
        for name, version in npms:
            manifest = json.dumps({"name": name, "version": version}).encode()
            yield f"app/node_modules/{name}/package.json", manifest

    def filler(layer: int, megabytes: int) -> Iterator[tuple[str, bytes]]:
        for i in range(megabytes // 4):
            yield f"data/layer{layer}/blob{i}.bin", rng.randbytes(4 << 20)

    paths = [folder / "os.tar.gz", folder / "lang.tar.gz"]
    layers = [_layer(paths[0], os_files()), _layer(paths[1], language_files())]
    per_layer = max(4, size_mb // 4)
    for n in range(4):
        paths.append(folder / f"fill{n}.tar.gz")
        layers.append(_layer(paths[-1], filler(n, per_layer)))
    return {"layers": layers, "paths": paths, "debs": debs, "pythons": pythons, "npms": npms}


def generate_osv(path: Path, image: dict[str, Any], count: int, rng: random.Random) -> int:
    """An OSV zip: advisories for the image's packages (some affect the installed versions,
    some are fixed below them) and many for packages the image does not have."""
    sources = sorted({source for _, source, _ in image["debs"]})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            kind = i % 3
            if kind == 0:
                ecosystem = "Debian:12"
                name = rng.choice(sources) if rng.random() < 0.3 else f"absent-src-{i}"
                fixed = rng.choice(["1.3.0-1", "1.0.0-1", "2.0-1"])
            elif kind == 1:
                ecosystem = "PyPI"
                name = rng.choice(image["pythons"])[0] if rng.random() < 0.3 else f"absent-{i}"
                fixed = rng.choice(["1.0.0", "3.0.0", "9.0.0"])
            else:
                ecosystem = "npm"
                name = rng.choice(image["npms"])[0] if rng.random() < 0.3 else f"absent-{i}"
                fixed = rng.choice(["1.0.0", "2.5.0", "9.0.0"])
            record = {
                "id": f"BENCH-{i}",
                "modified": "2024-01-01T00:00:00Z",
                "aliases": [f"CVE-2099-{100000 + i}"],
                "details": "generated " * 20,
                "severity": [
                    {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
                ],
                "affected": [
                    {
                        "package": {"ecosystem": ecosystem, "name": name},
                        "ranges": [
                            {
                                "type": "SEMVER" if ecosystem == "npm" else "ECOSYSTEM",
                                "events": [{"introduced": "0"}, {"fixed": fixed}],
                            }
                        ],
                    }
                ],
                "references": [{"type": "WEB", "url": f"https://example.test/{i}"}],
            }
            archive.writestr(f"BENCH-{i}.json", json.dumps(record))
    return count


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--packages", type=int, default=3000)
    parser.add_argument("--advisories", type=int, default=60_000)
    args = parser.parse_args()
    rng = random.Random(6)
    with tempfile.TemporaryDirectory(prefix="berth-scan-bench-") as temp:
        folder = Path(temp)
        started = time.monotonic()
        image = generate_image(folder, args.size_mb, args.packages, rng)
        osv_zip = folder / "all.zip"
        generate_osv(osv_zip, image, args.advisories, rng)
        total = sum(size for _, size in image["layers"])
        print(
            f"generated {total / 2**20:.0f} MiB in {len(image['layers'])} layers, "
            f"{len(image['debs']) + len(image['pythons']) + len(image['npms'])} packages, "
            f"{args.advisories} advisories in {time.monotonic() - started:.1f} s"
        )

        data = folder / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "BERTH_ROOT_ACCESS_KEY_ID": ROOT_KEY_ID,
            "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
            "BERTH_CREATE_ON_PUSH": "1",
            "BERTH_SCAN_POLL_INTERVAL": "0.2",
            "BERTH_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "berth", "serve", "--port", str(port), "--data-dir", str(data)],
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            started = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "berth",
                    "vulndb",
                    "import",
                    "--data-dir",
                    str(data),
                    str(osv_zip),
                ],
                check=True,
                env=env,
            )
            print(f"vulndb import: {time.monotonic() - started:.1f} s (while serving)")

            password = registry_password(url)
            with httpx.Client(base_url=url, auth=("AWS", password), timeout=600) as client:
                started = time.monotonic()
                for (digest, size), path in zip(image["layers"], image["paths"], strict=True):
                    with open(path, "rb") as body:
                        response = client.post(
                            "/v2/bench/image/blobs/uploads/",
                            params={"digest": digest},
                            content=iter(lambda b=body: b.read(1 << 20), b""),
                            headers={"Content-Length": str(size)},
                        )
                    assert response.status_code == 201, response.text
                config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
                config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
                client.post(
                    "/v2/bench/image/blobs/uploads/",
                    params={"digest": config_digest},
                    content=config,
                )
                manifest = json.dumps(
                    {
                        "schemaVersion": 2,
                        "mediaType": MANIFEST,
                        "config": {
                            "mediaType": CONFIG,
                            "digest": config_digest,
                            "size": len(config),
                        },
                        "layers": [
                            {"mediaType": LAYER, "digest": d, "size": s} for d, s in image["layers"]
                        ],
                    }
                )
                response = client.put(
                    "/v2/bench/image/manifests/v1",
                    content=manifest,
                    headers={"Content-Type": MANIFEST},
                )
                assert response.status_code == 201, response.text
                print(f"push: {time.monotonic() - started:.1f} s")

            ecr = boto3.client(
                "ecr",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=ROOT_KEY_ID,
                aws_secret_access_key=ROOT_SECRET,
            )
            before = vm_hwm(server.pid)
            started = time.monotonic()
            ecr.start_image_scan(repositoryName="bench/image", imageId={"imageTag": "v1"})
            while True:
                found = ecr.describe_image_scan_findings(
                    repositoryName="bench/image", imageId={"imageTag": "v1"}, maxResults=1000
                )
                if found["imageScanStatus"]["status"] in ("COMPLETE", "FAILED"):
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            print(f"scan: {elapsed:.1f} s, status {found['imageScanStatus']}")
            print(f"findings: {found['imageScanFindings']['findingSeverityCounts']}")
            print(f"server peak RSS: {before} MiB before the scan, {vm_hwm(server.pid)} MiB after")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
