"""Images built from this machine's real package databases, and a small OSV fixture that knows
which of their packages are vulnerable, for the scanning tests (API and end to end)."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from berth import cli
from berth.config import Settings
from tests.api.helpers import CONFIG, OCI_MANIFEST, push_blob, sha256
from tests.unit.scan.builders import APK_INSTALLED, Entry, file, layer, whiteout

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
SITE = "usr/local/lib/python3.11/site-packages"
CRITICAL_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
HIGH_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
# Whose dist-info goes into the image (vulnerable), and whose is whited out again.
KEPT, DELETED = "httpx", "idna"


@dataclass(frozen=True)
class Machine:
    """What this Debian machine has installed: the glibc source package's version and the
    binary packages built from it (libc6, libc-bin, …)."""

    distro: str  # "Debian:12"
    glibc: str
    glibc_binaries: frozenset[str]


def machine() -> Machine:
    release = Path("/etc/os-release")
    if shutil.which("dpkg-query") is None or not release.exists():
        pytest.skip("needs a Debian machine (dpkg-query, /etc/os-release)")
    fields = dict(line.split("=", 1) for line in release.read_text().splitlines() if "=" in line)
    if fields.get("ID") != "debian":
        pytest.skip("needs a Debian machine")
    output = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${source:Package}\t${source:Version}\n",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    binaries = set()
    version = ""
    for line in output.splitlines():
        status, package, source, source_version = line.split("\t")
        if status == "installed" and source == "glibc":
            binaries.add(package)
            version = source_version
    assert binaries, "glibc is installed on every Debian machine"
    return Machine(f"Debian:{fields['VERSION_ID'].strip(chr(34))}", version, frozenset(binaries))


def dist_info(distribution: str) -> list[Entry]:
    """The real dist-info folder of a distribution installed in this venv."""
    dist = importlib.metadata.distribution(distribution)
    folder = Path(str(dist._path))  # type: ignore[attr-defined]
    return [
        file(f"{SITE}/{folder.name}/{item.name}", item.read_bytes())
        for item in sorted(folder.iterdir())
        if item.is_file()
    ]


def debian_layers() -> list[tuple[str, bytes]]:
    """(media type, blob) of three layers: the OS (dpkg status, os-release), pip installs of
    httpx and idna (zstd), then idna deleted again by a whiteout."""
    idna_folder = dist_info(DELETED)[0].path.rpartition("/")[0]
    return [
        (
            GZIP_LAYER,
            layer(
                [
                    file("etc/os-release", Path("/etc/os-release").read_bytes()),
                    file("var/lib/dpkg/status", Path("/var/lib/dpkg/status").read_bytes()),
                ],
                "gzip",
            ),
        ),
        (ZSTD_LAYER, layer(dist_info(KEPT) + dist_info(DELETED), "zstd")),
        (GZIP_LAYER, layer([whiteout(idna_folder), file("app/main.py", "print(1)\n")], "gzip")),
    ]


ALPINE_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def alpine_layers() -> list[tuple[str, bytes]]:
    return [
        (
            GZIP_LAYER,
            layer(
                [
                    file("etc/os-release", ALPINE_RELEASE),
                    file("lib/apk/db/installed", APK_INSTALLED),
                ]
            ),
        )
    ]


def push_layers(client: httpx.Client, name: str, tag: str, layers: list[tuple[str, bytes]]) -> str:
    """Push an image of these layers over /v2/; its digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(blob) for _, blob in layers]},
        }
    ).encode()
    push_blob(client, name, config)
    for _, blob in layers:
        push_blob(client, name, blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [
                {"mediaType": media_type, "digest": sha256(blob), "size": len(blob)}
                for media_type, blob in layers
            ],
        }
    ).encode()
    response = client.put(
        f"/v2/{name}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"]


def _record(
    ident: str,
    ecosystem: str,
    name: str,
    events: list[dict[str, str]],
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    if "database_specific" in extra:
        affected["database_specific"] = extra.pop("database_specific")
    return {
        "schema_version": "1.6.0",
        "id": ident,
        "modified": extra.pop("modified", "2024-03-01T00:00:00Z"),
        "summary": f"summary of {ident}",
        "details": f"details of {ident}",
        "affected": [affected],
        "references": [{"type": "ADVISORY", "url": f"https://example.test/{ident}"}],
        **extra,
    }


def osv_records(here: Machine) -> list[dict[str, Any]]:
    httpx_version = importlib.metadata.version(KEPT)
    return [
        # glibc as installed here is vulnerable: fixed only in a later version.
        _record(
            "DEBIAN-CVE-2099-0001",
            here.distro,
            "glibc",
            [{"introduced": "0"}, {"fixed": here.glibc + "+1"}],
            severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}],
        ),
        # Fixed in exactly the installed version, and fixed below it: nothing to report.
        _record(
            "DEBIAN-CVE-2099-0002",
            here.distro,
            "glibc",
            [{"introduced": "0"}, {"fixed": here.glibc}],
            severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}],
        ),
        _record(
            "DEBIAN-CVE-2099-0003", here.distro, "glibc", [{"introduced": "0"}, {"fixed": "2.0-1"}]
        ),
        # Another Debian release: does not apply.
        _record("DEBIAN-CVE-2099-0004", "Debian:7", "glibc", [{"introduced": "0"}]),
        # PyPI: httpx vulnerable (a GHSA with a CVE alias, GitHub's "MODERATE"), and fixed.
        _record(
            "GHSA-aaaa-bbbb-cccc",
            "PyPI",
            "HTTPX",
            [{"introduced": "0"}, {"fixed": httpx_version + ".post1"}],
            aliases=["CVE-2099-1001"],
            database_specific={"severity": "MODERATE"},
        ),
        _record(
            "GHSA-dddd-eeee-ffff",
            "PyPI",
            "httpx",
            [{"introduced": "0"}, {"fixed": "0.1.0"}],
            aliases=["CVE-2099-1002"],
        ),
        # idna is vulnerable, but the image deleted it.
        _record("PYSEC-2099-1", "PyPI", "idna", [{"introduced": "0"}], aliases=["CVE-2099-1003"]),
        # Alpine: musl (apk origin) vulnerable, with a CVSS v3 High; busybox fixed.
        _record(
            "ALPINE-CVE-2099-2001",
            "Alpine:v3.19",
            "musl",
            [{"introduced": "0"}, {"fixed": "1.2.4_git20230717-r5"}],
            severity=[{"type": "CVSS_V3", "score": HIGH_V3}],
        ),
        _record(
            "ALPINE-CVE-2099-2002",
            "Alpine:v3.19",
            "musl",
            [{"introduced": "0"}, {"fixed": "1.2.4_git20230717-r4"}],
        ),
    ]


def expected_debian_findings(here: Machine) -> dict[tuple[str, str], str]:
    """(finding name, package name) → severity."""
    expected = {
        ("CVE-2099-0001", binary.split(":")[0]): "CRITICAL" for binary in here.glibc_binaries
    }
    expected[("CVE-2099-1001", "httpx")] = "MEDIUM"
    return expected


def write_osv(path: Path, records: list[dict[str, Any]]) -> Path:
    """A folder of OSV records, one file each, as OSV's exports unpack."""
    path.mkdir(parents=True, exist_ok=True)
    for record in records:
        (path / f"{record['id']}.json").write_text(json.dumps(record))
    return path


def vulndb(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = cli.main(
        [
            "vulndb",
            *args[:1],
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.sqlalchemy_url,
            *args[1:],
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def findings_of(response: dict[str, Any]) -> dict[tuple[str, str], str]:
    found = {}
    for finding in response["imageScanFindings"]["findings"]:
        attributes = {a["key"]: a["value"] for a in finding["attributes"]}
        key = (finding["name"], attributes["package_name"])
        assert key not in found, f"{key} reported twice"
        found[key] = finding["severity"]
    return found
