"""The whole scan on one image: layers → files → packages → findings and SBOM."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from berth.scan.cyclonedx import sbom
from berth.scan.inventory import extract_file, inventory, wanted_path
from berth.scan.layers import read_files
from berth.scan.osv import index, match, parse_advisory
from tests.unit.scan.builders import (
    elf,
    file,
    jar,
    layer,
    openers,
    pom_properties,
    symlink,
    whiteout,
)
from tests.unit.scan.test_inventory import GO_BUILDINFO, dist_info_entries
from tests.unit.scan.test_osv import CRITICAL_98, LOG4SHELL, eco, record, semver, v3


def installed_glibc() -> tuple[str, str]:
    """(libc6's version, glibc's source version) on this machine, as dpkg reports them."""
    if shutil.which("dpkg-query") is None or not Path("/var/lib/dpkg/status").exists():
        pytest.skip("no dpkg on this machine")
    output = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}\t${source:Version}", "libc6"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    version, source_version = output.split("\t")
    return version, source_version


def test_scan_of_an_image() -> None:
    libc6, glibc = installed_glibc()
    release = Path("/etc/os-release").read_bytes()
    if b"ID=debian" not in release:
        pytest.skip("not a Debian machine")
    distro = "Debian:" + next(
        line.split("=", 1)[1].strip('"')
        for line in release.decode().splitlines()
        if line.startswith("VERSION_ID=")
    )
    app_jar = jar(
        dict(
            [
                pom_properties("com.example", "app", "1.0.0"),
                (
                    "BOOT-INF/lib/log4j-core-2.14.1.jar",
                    jar(dict([pom_properties("org.apache.logging.log4j", "log4j-core", "2.14.1")])),
                ),
            ]
        )
    )
    layers = openers(
        layer(  # the base image
            [
                file("usr/lib/os-release", release),
                symlink("etc/os-release", "../usr/lib/os-release"),
                file("var/lib/dpkg/status", Path("/var/lib/dpkg/status").read_bytes()),
            ],
            "gzip",
        ),
        layer(  # pip install
            dist_info_entries("PyYAML") + dist_info_entries("attrs"),
            "zstd",
        ),
        layer(  # the application
            [
                whiteout(dist_info_entries("attrs")[0].path.rpartition("/")[0]),
                file("app/app.jar", app_jar),
                file(
                    "app/node_modules/lodash/package.json",
                    json.dumps({"name": "lodash", "version": "4.17.20"}),
                ),
                file("usr/local/bin/hello", elf({".go.buildinfo": GO_BUILDINFO}), mode=0o755),
                file("usr/local/bin/run.sh", "#!/bin/sh\nexec hello\n", mode=0o755),
            ],
            "none",
        ),
    )
    files = read_files(layers, wanted_path, extract=extract_file)
    packages = inventory(files)
    by_ecosystem: dict[str, set[str]] = {}
    for package in packages:
        by_ecosystem.setdefault(package.ecosystem, set()).add(package.name)
    assert "libc6" in by_ecosystem["Debian"]
    assert by_ecosystem["PyPI"] == {"pyyaml"}  # attrs was whited out
    assert by_ecosystem["Maven"] == {"com.example:app", "org.apache.logging.log4j:log4j-core"}
    assert by_ecosystem["npm"] == {"lodash"}
    assert by_ecosystem["Go"] == {"stdlib", "example.com/vulnlib"}

    records: list[dict[str, Any]] = [
        record("DEBIAN-CVE-2099-0001", distro, "glibc", eco(fixed=glibc + "+1")),
        record("DEBIAN-CVE-2099-0002", distro, "glibc", eco(fixed=glibc)),  # already fixed
        record("DEBIAN-CVE-2099-0003", "Debian:1", "glibc", eco()),  # another release
        record(
            "GHSA-jfh8-c2jp-5v3q",
            "Maven",
            "org.apache.logging.log4j:log4j-core",
            eco("2.13.0", "2.15.0"),
            aliases=["CVE-2021-44228"],
            severity=v3(LOG4SHELL),
        ),
        record("GHSA-2", "npm", "lodash", semver(fixed="4.17.21"), aliases=["CVE-2021-23337"]),
        record("GHSA-3", "PyPI", "attrs", eco(), aliases=["CVE-2099-0004"]),  # whited out
        record(
            "GHSA-4",
            "PyPI",
            "PyYAML",
            eco(last_affected="99"),
            aliases=["CVE-2099-0005"],
            severity=v3(CRITICAL_98),
        ),
        record("GO-2099-0001", "Go", "example.com/vulnlib", semver(fixed="1.2.4")),
    ]
    findings = match(packages, index(parse_advisory(r) for r in records))
    reported = {(f.name, f.package.name, f.severity) for f in findings}
    glibc_binaries = {p.name for p in packages if (p.source_name or p.name) == "glibc"}
    assert reported == {
        *{("CVE-2099-0001", name, "UNDEFINED") for name in glibc_binaries},
        ("CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "CRITICAL"),
        ("CVE-2021-23337", "lodash", "UNDEFINED"),
        ("CVE-2099-0005", "pyyaml", "CRITICAL"),
        ("GO-2099-0001", "example.com/vulnlib", "UNDEFINED"),
    }
    libc = next(f for f in findings if f.package.name == "libc6")
    assert dict(libc.attributes)["package_version"] == libc6

    document = sbom(packages, image_name="team/app", image_digest="sha256:" + "0" * 64)
    purls = {c.get("purl") for c in document["components"]}
    assert "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" in purls
    assert "pkg:golang/example.com/vulnlib@v1.2.3" in purls
    assert any(p and p.startswith("pkg:deb/debian/libc6@") for p in purls)
    assert document["components"][0]["type"] == "operating-system"
