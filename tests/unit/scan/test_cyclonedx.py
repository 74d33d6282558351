from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from packageurl import PackageURL

from berth.scan.cyclonedx import package_url, sbom
from berth.scan.inventory import Package

DIGEST = "sha256:" + "ab" * 32
PACKAGES = [
    Package("Debian", "libssl3", "3.0.11-1~deb12u2", "var/lib/dpkg/status", "openssl", "Debian:12"),
    Package("Debian", "login", "1:4.13+dfsg1-1", "var/lib/dpkg/status", "shadow", "Debian:12"),
    Package("npm", "@babel/core", "7.0.0", "app/node_modules/@babel/core/package.json"),
    Package("npm", "qs", "6.7.0", "app/node_modules/qs/package.json"),
    Package("npm", "qs", "6.7.0", "app/node_modules/express/node_modules/qs/package.json"),
]


@pytest.mark.parametrize(
    ("package", "purl"),
    [
        (PACKAGES[0], "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12"),
        (PACKAGES[1], "pkg:deb/debian/login@1:4.13%2Bdfsg1-1?distro=debian-12"),
        (
            Package("Ubuntu", "zlib1g", "1:1.2.11", "s", None, "Ubuntu:22.04"),
            "pkg:deb/ubuntu/zlib1g@1:1.2.11?distro=ubuntu-22.04",
        ),
        (
            Package("Alpine", "musl", "1.2.4_git20230717-r4", "i", "musl", "Alpine:v3.19"),
            "pkg:apk/alpine/musl@1.2.4_git20230717-r4?distro=alpine-3.19",
        ),
        (
            Package(
                "Rocky Linux", "openssl-libs", "1:3.0.7-24.el9", "r", "openssl", "Rocky Linux:9"
            ),
            "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?distro=rocky-9&epoch=1",
        ),
        (
            Package("RPM", "bash", "5.2.26-3.fc40", "r", "bash", "fedora:40"),
            "pkg:rpm/fedora/bash@5.2.26-3.fc40?distro=fedora-40",
        ),
        (Package("PyPI", "PyYAML", "6.0.1", "m"), "pkg:pypi/pyyaml@6.0.1"),
        (Package("PyPI", "typing_extensions", "4.9.0", "m"), "pkg:pypi/typing-extensions@4.9.0"),
        (PACKAGES[2], "pkg:npm/%40babel/core@7.0.0"),
        (PACKAGES[3], "pkg:npm/qs@6.7.0"),
        (
            Package("Go", "github.com/sirupsen/logrus", "v1.9.3", "b"),
            "pkg:golang/github.com/sirupsen/logrus@v1.9.3",
        ),
        (Package("Go", "stdlib", "v1.21.5", "b"), "pkg:golang/stdlib@v1.21.5"),
        (
            Package("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", "a.jar"),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        ),
    ],
)
def test_package_urls(package: Package, purl: str) -> None:
    assert package_url(package) == purl
    PackageURL.from_string(purl)  # and it parses back


def test_document_shape() -> None:
    document = sbom(PACKAGES, image_name="team/api", image_digest=DIGEST)
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.5"
    assert document["version"] == 1
    assert document["serialNumber"].startswith("urn:uuid:")
    assert document["metadata"]["component"] == {
        "type": "container",
        "bom-ref": DIGEST,
        "name": "team/api",
        "version": DIGEST,
        "purl": "pkg:oci/api@sha256:" + "ab" * 32,
    }
    assert "timestamp" not in document["metadata"]
    os_component, *libraries = document["components"]
    assert os_component == {
        "type": "operating-system",
        "bom-ref": "os:Debian:12",
        "name": "Debian",
        "version": "12",
    }
    assert [c["purl"] for c in libraries] == sorted({package_url(p) for p in PACKAGES})
    assert all(c["type"] == "library" and c["bom-ref"] == c["purl"] for c in libraries)
    json.dumps(document)  # plain JSON all the way down


def test_one_component_per_purl_with_every_location() -> None:
    document = sbom(PACKAGES, image_name="api", image_digest=DIGEST)
    (qs,) = [c for c in document["components"] if c.get("name") == "qs"]
    assert qs["evidence"]["occurrences"] == [
        {"location": "/app/node_modules/express/node_modules/qs/package.json"},
        {"location": "/app/node_modules/qs/package.json"},
    ]


def test_component_details() -> None:
    document = sbom(
        [*PACKAGES, Package("Maven", "org.yaml:snakeyaml", "1.33", "app.jar")],
        image_name="api",
        image_digest=DIGEST,
    )
    by_name = {c["name"]: c for c in document["components"]}
    assert by_name["snakeyaml"]["group"] == "org.yaml"
    assert {"name": "berth:source_name", "value": "openssl"} in by_name["libssl3"]["properties"]


def test_serial_number_is_deterministic_and_timestamp_optional() -> None:
    first = sbom(PACKAGES, image_name="api", image_digest=DIGEST)
    assert first == sbom(list(reversed(PACKAGES)), image_name="api", image_digest=DIGEST)
    other = sbom(PACKAGES[:2], image_name="api", image_digest=DIGEST)
    assert other["serialNumber"] != first["serialNumber"]
    stamped = sbom(
        PACKAGES,
        image_name="api",
        image_digest=DIGEST,
        timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    assert stamped["metadata"]["timestamp"] == "2024-05-01T12:00:00Z"


def test_empty_image() -> None:
    document = sbom([], image_name="scratch", image_digest=DIGEST)
    assert document["components"] == []
