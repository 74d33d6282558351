from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from berth.scan._apk import compare, is_valid
from berth.scan.inventory import Package
from berth.scan.osv import (
    Advisory,
    Finding,
    OsvError,
    affected,
    index,
    load_records,
    match,
    parse_advisory,
)

CRITICAL_98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
LOG4SHELL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"  # 10.0
HIGH_75 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
HIGH_72 = "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"  # 7.2
MEDIUM_61 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"  # 6.1, the classic XSS
LOW_31 = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"  # 3.1
HEARTBLEED_V2 = "AV:N/AC:L/Au:N/C:P/I:N/A:N"  # 5.0
CRITICAL_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3


def eco(introduced: str = "0", fixed: str | None = None, **more: str) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed is not None:
        events.append({"fixed": fixed})
    events += [{kind: version} for kind, version in more.items()]
    return {"type": "ECOSYSTEM", "events": events}


def semver(introduced: str = "0", fixed: str | None = None) -> dict[str, Any]:
    return {**eco(introduced, fixed), "type": "SEMVER"}


def record(
    ident: str,
    ecosystem: str,
    name: str,
    *ranges: dict[str, Any],
    aliases: list[str] | None = None,
    severity: list[dict[str, str]] | None = None,
    versions: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    affected_entry: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": list(ranges),
    }
    if versions is not None:
        affected_entry["versions"] = versions
    if "ecosystem_specific" in extra:
        affected_entry["ecosystem_specific"] = extra.pop("ecosystem_specific")
    result: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": ident,
        "modified": "2024-03-01T00:00:00Z",
        "published": "2024-02-01T00:00:00Z",
        "aliases": aliases or [],
        "summary": f"summary of {ident}",
        "details": f"details of {ident}",
        "affected": [affected_entry],
        "references": [{"type": "ADVISORY", "url": f"https://example.test/{ident}"}],
        **extra,
    }
    if severity is not None:
        result["severity"] = severity
    return result


def v3(vector: str) -> list[dict[str, str]]:
    return [{"type": "CVSS_V3", "score": vector}]


# The fixture database: what distributions and registries publish, trimmed to what matters.
RECORDS: list[dict[str, Any]] = [
    # Debian: keyed by source package, versions with epochs and "~".
    record(
        "DSA-5678-1",
        "Debian:12",
        "openssl",
        eco(fixed="3.0.13-1~deb12u1"),
        aliases=["CVE-2024-0001", "CVE-2024-0002"],
        ecosystem_specific={"urgency": "medium"},
    ),
    record(
        "DEBIAN-CVE-2024-1000",
        "Debian:12",
        "shadow",
        eco(fixed="1:4.13+dfsg1-1+deb12u1"),
        severity=v3(HIGH_75),
    ),
    record("DLA-9999-1", "Debian:11", "shadow", eco(fixed="1:4.99-1"), aliases=["CVE-2024-1001"]),
    record(
        "DEBIAN-CVE-2024-1002",
        "Debian:12",
        "gcc-12",
        eco(fixed="12.2.0-14+deb12u1"),
        ecosystem_specific={"urgency": "low**"},
    ),
    record("DEBIAN-CVE-2024-1003", "Debian:12", "tar", eco()),  # unfixed: every version
    record(
        "DEBIAN-CVE-2024-1004",
        "Debian:12",
        "tilde",
        eco(fixed="2.0-1"),
        severity=v3(LOW_31),
    ),
    # Alpine: keyed by origin, release "v3.19".
    record(
        "CVE-2024-0727",
        "Alpine:v3.19",
        "openssl",
        eco(fixed="3.1.4-r5"),
        severity=v3(MEDIUM_61),
    ),
    record("CVE-2024-0728", "Alpine:v3.18", "openssl", eco(fixed="3.1.9-r0")),
    record("CVE-2024-0729", "Alpine:v3.19", "musl", eco(fixed="1.2.4_git20230717-r4")),
    # Rocky Linux: epoch:version-release, binary and source package names.
    record(
        "RLSA-2024:0001",
        "Rocky Linux:9",
        "openssl",
        eco(fixed="1:3.0.7-25.el9"),
        aliases=["CVE-2024-2001"],
        database_specific={"severity": "Important"},
    ),
    record("RLSA-2024:0002", "Rocky Linux:9", "bash", eco(fixed="5.1.8-9.el9")),
    record("RLSA-2024:0003", "Rocky Linux:9", "openssl-libs", eco(fixed="3.0.8-1.el9")),
    # PyPI: names as published, PEP 440 versions.
    record(
        "GHSA-8q59-q68h-6hv4",
        "PyPI",
        "PyYAML",
        eco(fixed="5.4"),
        aliases=["CVE-2020-14343"],
        severity=v3(CRITICAL_98),
    ),
    record(
        "GHSA-9wx4-h78v-vm56",
        "PyPI",
        "requests",
        eco(fixed="2.32.0"),
        aliases=["CVE-2024-35195"],
        database_specific={"severity": "MODERATE"},
    ),
    record("PYSEC-2024-1", "PyPI", "django", eco("4.2", "4.2.10")),
    record("PYSEC-2024-2", "PyPI", "pre-release", eco(fixed="1.0")),
    record("PYSEC-2024-3", "PyPI", "listed-only", versions=["0.9", "0.9.1"]),
    # npm: SEMVER ranges.
    record(
        "GHSA-35jh-r3h4-6jhm",
        "npm",
        "lodash",
        semver(fixed="4.17.21"),
        aliases=["CVE-2021-23337"],
        severity=v3(HIGH_72),
    ),
    record(
        "GHSA-67hx-6x53-jw92",
        "npm",
        "@babel/traverse",
        semver(fixed="7.23.2"),
        aliases=["CVE-2023-45133"],
        severity=v3(CRITICAL_98),
    ),
    record(
        "GHSA-hrpp-h998-j3pp",
        "npm",
        "qs",
        semver("6.7.0", "6.7.3"),
        semver("6.10.0", "6.10.3"),
        aliases=["CVE-2022-24999"],
        severity=v3(HIGH_75),
    ),
    # Go: module paths, versions without "v" in OSV, "stdlib".
    record(
        "GO-2024-0001",
        "Go",
        "example.com/vulnlib",
        semver(fixed="1.2.4"),
        aliases=["CVE-2024-3001", "GHSA-aaaa-bbbb-cccc"],
    ),
    record("GO-2024-0002", "Go", "stdlib", semver(fixed="1.19.9"), aliases=["CVE-2023-24538"]),
    record("GO-2023-1571", "Go", "golang.org/x/net", semver(fixed="0.7.0")),
    # Maven: the real Log4Shell ranges.
    record(
        "GHSA-jfh8-c2jp-5v3q",
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        eco("2.0-beta9", "2.3.1"),
        eco("2.4", "2.12.2"),
        eco("2.13.0", "2.15.0"),
        aliases=["CVE-2021-44228"],
        severity=v3(LOG4SHELL),
    ),
    record(
        "GHSA-mjmj-j48q-9wg2",
        "Maven",
        "org.yaml:snakeyaml",
        eco(fixed="2.0"),
        aliases=["CVE-2022-1471"],
        severity=[{"type": "CVSS_V2", "score": HEARTBLEED_V2}],
    ),
    # Withdrawn advisories match nothing.
    record("GHSA-wwww-wwww-wwww", "npm", "lodash", semver(), withdrawn="2024-01-01T00:00:00Z"),
]

DEBIAN = "Debian:12"
PACKAGES = [
    Package("Debian", "libssl3", "3.0.11-1~deb12u2", "var/lib/dpkg/status", "openssl", DEBIAN),
    Package("Debian", "openssl", "3.0.13-1~deb12u1", "var/lib/dpkg/status", None, DEBIAN),
    Package("Debian", "login", "1:4.13+dfsg1-1", "var/lib/dpkg/status", "shadow", DEBIAN),
    Package("Debian", "passwd", "1:4.13+dfsg1-1+deb12u1", "var/lib/dpkg/status", "shadow", DEBIAN),
    Package(
        "Debian", "libgcc-s1", "12.2.0-14+b1", "var/lib/dpkg/status", "gcc-12", DEBIAN, "12.2.0-14"
    ),
    Package("Debian", "tar", "1.34+dfsg-1.2", "var/lib/dpkg/status", None, DEBIAN),
    Package("Debian", "tilde", "2.0-1~bpo12+1", "var/lib/dpkg/status", None, DEBIAN),
    Package("Alpine", "libcrypto3", "3.1.4-r3", "lib/apk/db/installed", "openssl", "Alpine:v3.19"),
    Package(
        "Alpine", "musl", "1.2.4_git20230717-r4", "lib/apk/db/installed", "musl", "Alpine:v3.19"
    ),
    Package(
        "Rocky Linux",
        "openssl-libs",
        "1:3.0.7-24.el9",
        "var/lib/rpm/rpmdb.sqlite",
        "openssl",
        "Rocky Linux:9",
    ),
    Package(
        "Rocky Linux", "bash", "5.1.8-6.el9_1", "var/lib/rpm/rpmdb.sqlite", "bash", "Rocky Linux:9"
    ),
    Package("PyPI", "pyyaml", "5.3.1", "site-packages/PyYAML-5.3.1.dist-info/METADATA"),
    Package("PyPI", "requests", "2.31.0", "site-packages/requests-2.31.0.dist-info/METADATA"),
    Package("PyPI", "django", "4.2.11", "site-packages/Django-4.2.11.dist-info/METADATA"),
    Package("PyPI", "pre-release", "1.0rc1", "site-packages/pre_release-1.0rc1.dist-info/METADATA"),
    Package("PyPI", "listed-only", "0.9.1", "site-packages/listed_only-0.9.1.dist-info/METADATA"),
    Package("npm", "lodash", "4.17.20", "node_modules/lodash/package.json"),
    Package("npm", "@babel/traverse", "7.22.0", "node_modules/@babel/traverse/package.json"),
    Package("npm", "qs", "6.11.0", "node_modules/qs/package.json"),
    Package("npm", "qs", "6.7.0", "node_modules/express/node_modules/qs/package.json"),
    Package("Go", "example.com/vulnlib", "v1.2.3", "usr/local/bin/hello"),
    Package("Go", "stdlib", "v1.19.8", "usr/local/bin/hello"),
    Package("Go", "golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110", "usr/local/bin/hello"),
    Package("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", "app/app.jar"),
    Package("Maven", "org.yaml:snakeyaml", "1.33", "app/app.jar!/BOOT-INF/lib/snakeyaml-1.33.jar"),
]

# (finding name, package name, package version, severity): everything the fixture must report.
EXPECTED = {
    ("CVE-2024-0001", "libssl3", "3.0.11-1~deb12u2", "MEDIUM"),
    ("CVE-2024-0002", "libssl3", "3.0.11-1~deb12u2", "MEDIUM"),
    ("CVE-2024-1000", "login", "1:4.13+dfsg1-1", "HIGH"),
    ("CVE-2024-1002", "libgcc-s1", "12.2.0-14+b1", "LOW"),
    ("CVE-2024-1003", "tar", "1.34+dfsg-1.2", "UNDEFINED"),
    ("CVE-2024-1004", "tilde", "2.0-1~bpo12+1", "LOW"),
    ("CVE-2024-0727", "libcrypto3", "3.1.4-r3", "MEDIUM"),
    ("CVE-2024-2001", "openssl-libs", "1:3.0.7-24.el9", "HIGH"),
    ("RLSA-2024:0002", "bash", "5.1.8-6.el9_1", "UNDEFINED"),
    ("CVE-2020-14343", "pyyaml", "5.3.1", "CRITICAL"),
    ("CVE-2024-35195", "requests", "2.31.0", "MEDIUM"),
    ("PYSEC-2024-2", "pre-release", "1.0rc1", "UNDEFINED"),
    ("PYSEC-2024-3", "listed-only", "0.9.1", "UNDEFINED"),
    ("CVE-2021-23337", "lodash", "4.17.20", "HIGH"),
    ("CVE-2023-45133", "@babel/traverse", "7.22.0", "CRITICAL"),
    ("CVE-2022-24999", "qs", "6.7.0", "HIGH"),
    ("CVE-2024-3001", "example.com/vulnlib", "v1.2.3", "UNDEFINED"),
    ("CVE-2023-24538", "stdlib", "v1.19.8", "UNDEFINED"),
    ("GO-2023-1571", "golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110", "UNDEFINED"),
    ("CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "2.14.1", "CRITICAL"),
    ("CVE-2022-1471", "org.yaml:snakeyaml", "1.33", "MEDIUM"),
}


def advisories() -> list[Advisory]:
    return [parse_advisory(r) for r in RECORDS]


def findings() -> list[Finding]:
    return match(PACKAGES, index(advisories()))


def test_every_expected_finding_and_nothing_else() -> None:
    got = {(f.name, f.package.name, f.package.version, f.severity) for f in findings()}
    assert got == EXPECTED


def test_findings_are_ordered_most_severe_first() -> None:
    ranks = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
    order = [ranks.index(f.severity) for f in findings()]
    assert order == sorted(order)


def test_finding_fields_and_attributes() -> None:
    by_name = {f.name: f for f in findings()}
    log4shell = by_name["CVE-2021-44228"]
    assert log4shell.advisory_id == "GHSA-jfh8-c2jp-5v3q"
    assert log4shell.uri == "https://example.test/GHSA-jfh8-c2jp-5v3q"
    assert log4shell.description == "details of GHSA-jfh8-c2jp-5v3q"
    assert dict(log4shell.attributes) == {
        "package_name": "org.apache.logging.log4j:log4j-core",
        "package_version": "2.14.1",
        "CVSS3_VECTOR": LOG4SHELL,
        "CVSS3_SCORE": "10.0",
    }
    pyyaml = dict(by_name["CVE-2020-14343"].attributes)
    assert (pyyaml["CVSS3_SCORE"], pyyaml["CVSS3_VECTOR"]) == ("9.8", CRITICAL_98)
    snakeyaml = dict(by_name["CVE-2022-1471"].attributes)
    assert (snakeyaml["CVSS2_VECTOR"], snakeyaml["CVSS2_SCORE"]) == (HEARTBLEED_V2, "5.0")
    assert "CVSS3_SCORE" not in snakeyaml


def test_uri_falls_back_to_osv() -> None:
    raw = record("GHSA-xxxx-yyyy-zzzz", "npm", "left-pad", semver())
    raw["references"] = []
    package = Package("npm", "left-pad", "1.0.0", "node_modules/left-pad/package.json")
    (finding,) = match([package], index([parse_advisory(raw)]))
    assert finding.uri == "https://osv.dev/vulnerability/GHSA-xxxx-yyyy-zzzz"
    assert finding.name == "GHSA-xxxx-yyyy-zzzz"


# --- version semantics ---------------------------------------------------------------------------


def one(ecosystem: str, name: str, *ranges: dict[str, Any], **kw: Any) -> Advisory:
    return parse_advisory(record("TEST-1", ecosystem, name, *ranges, **kw))


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [
        ("1:1.0-1", True),  # epoch 1 beats no epoch
        ("2.0-1", True),  # ... so a bigger upstream version without epoch is older
        ("1:2.0~rc1-1", True),  # "~" sorts before the release
        ("1:2.0-1", False),
        ("1:2.0-1+deb12u1", False),
        ("2:0.1-1", False),
    ],
)
def test_debian_epochs_and_tilde(version: str, vulnerable: bool) -> None:
    advisory = one("Debian:12", "pkg", eco(fixed="1:2.0-1"))
    assert affected(advisory, Package("Debian", "pkg", version, "s", None, DEBIAN)) is vulnerable


def test_debian_release_must_match_and_source_names_count() -> None:
    advisory = one("Debian:12", "src", eco())
    binary = Package("Debian", "bin", "1.0", "s", "src", DEBIAN)
    assert affected(advisory, binary)
    assert not affected(advisory, Package("Debian", "bin", "1.0", "s", "src", "Debian:11"))
    assert not affected(advisory, Package("Debian", "bin", "1.0", "s", "src", None))
    # a binary name that happens to be some source's name is not looked at
    assert not affected(one("Debian:12", "bin", eco()), binary)


def test_ubuntu_release_with_suffixes() -> None:
    package = Package("Ubuntu", "libssl3", "3.0.2-0ubuntu1.14", "s", "openssl", "Ubuntu:22.04")
    assert affected(one("Ubuntu:22.04:LTS", "openssl", eco(fixed="3.0.2-0ubuntu1.15")), package)
    assert not affected(one("Ubuntu:Pro:22.04:LTS", "openssl", eco()), package)
    assert not affected(one("Ubuntu:20.04:LTS", "openssl", eco()), package)


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [
        ("1.2.3-r0", True),
        ("1.2.3-r9", True),
        ("1.2.3-r10", False),
        ("1.2.3_rc1-r20", True),
        ("1.2.4-r0", False),
    ],
)
def test_alpine_versions(version: str, vulnerable: bool) -> None:
    advisory = one("Alpine:v3.19", "pkg", eco(fixed="1.2.3-r10"))
    package = Package("Alpine", "pkg", version, "s", "pkg", "Alpine:v3.19")
    assert affected(advisory, package) is vulnerable


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [
        ("3.0.7-24.el9", False),  # epoch 0 < 1, but the fix has epoch 1 so 0:3.0.7 is older
        ("1:3.0.7-24.el9", True),
        ("1:3.0.7-25.el9", False),
        ("1:3.0.7-25.el9_3", False),
        ("2:1.0-1.el9", False),
    ],
)
def test_rpm_versions(version: str, vulnerable: bool) -> None:
    advisory = one("Rocky Linux:9", "openssl", eco(fixed="1:3.0.7-25.el9"))
    package = Package("Rocky Linux", "openssl-libs", version, "s", "openssl", "Rocky Linux:9")
    expected = vulnerable or version == "3.0.7-24.el9"
    assert affected(advisory, package) is expected


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [("1.0a1", True), ("1.0rc1", True), ("1.0", False), ("1.0.post1", False), ("0.9.dev0", True)],
)
def test_pypi_pep440(version: str, vulnerable: bool) -> None:
    advisory = one("PyPI", "Some_Package", eco(fixed="1.0"))
    assert affected(advisory, Package("PyPI", "some-package", version, "m")) is vulnerable


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [("1.9.9", True), ("2.0.0-beta.1", True), ("2.0.0", True), ("2.0.1", False), ("10.0.0", False)],
)
def test_npm_semver_and_last_affected(version: str, vulnerable: bool) -> None:
    advisory = one(
        "npm",
        "pkg",
        {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "2.0.0"}]},
    )
    assert affected(advisory, Package("npm", "pkg", version, "p")) is vulnerable


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [
        ("v0.0.0-20210226172049-e18ecbb05110", True),
        ("v0.6.9", True),
        ("v0.7.0", False),
        ("v0.17.0", False),
        ("v1.0.0+incompatible", False),
    ],
)
def test_go_versions(version: str, vulnerable: bool) -> None:
    advisory = one("Go", "golang.org/x/net", semver(fixed="0.7.0"))
    assert affected(advisory, Package("Go", "golang.org/x/net", version, "b")) is vulnerable


@pytest.mark.parametrize(
    ("version", "vulnerable"),
    [
        ("2.0-beta9", True),
        ("2.0", True),
        ("2.3.1", False),
        ("2.4", True),
        ("2.12.1", True),
        ("2.12.2", False),
        ("2.13.0", True),
        ("2.14.1", True),
        ("2.15.0", False),
        ("2.17.1", False),
        ("1.2.17", False),
    ],
)
def test_maven_log4shell_ranges(version: str, vulnerable: bool) -> None:
    (log4shell,) = [a for a in advisories() if a.id == "GHSA-jfh8-c2jp-5v3q"]
    package = Package("Maven", "org.apache.logging.log4j:log4j-core", version, "a.jar")
    assert affected(log4shell, package) is vulnerable


def test_multiple_introduced_fixed_pairs_in_one_range() -> None:
    advisory = one(
        "npm",
        "pkg",
        {
            "type": "SEMVER",
            "events": [
                {"introduced": "2.0.0"},
                {"fixed": "2.1.0"},
                {"introduced": "0"},
                {"fixed": "1.5.0"},
            ],
        },
    )
    verdicts = {
        v: affected(advisory, Package("npm", "pkg", v, "p"))
        for v in ["1.0.0", "1.6.0", "2.0.5", "2.2.0"]
    }
    assert verdicts == {"1.0.0": True, "1.6.0": False, "2.0.5": True, "2.2.0": False}


def test_limit_event_bounds_the_range() -> None:
    advisory = one(
        "npm", "pkg", {"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "3.0.0"}]}
    )
    assert affected(advisory, Package("npm", "pkg", "2.9.9", "p"))
    assert not affected(advisory, Package("npm", "pkg", "3.0.0", "p"))


def test_what_cannot_be_compared_does_not_match() -> None:
    git = one("npm", "pkg", {"type": "GIT", "repo": "https://x", "events": [{"introduced": "0"}]})
    assert not affected(git, Package("npm", "pkg", "1.0.0", "p"))
    bad_event = one("PyPI", "pkg", eco(fixed="not a version!"))
    assert not affected(bad_event, Package("PyPI", "pkg", "1.0", "m"))
    assert not affected(one("PyPI", "pkg", eco(fixed="2.0")), Package("PyPI", "pkg", "?!", "m"))
    other = one("crates.io", "pkg", eco())
    assert not affected(other, Package("npm", "pkg", "1.0.0", "p"))


def test_language_ecosystem_suffixes_are_not_releases() -> None:
    advisory = one("Maven:https://repo.maven.apache.org/maven2/", "g:a", eco(fixed="2.0"))
    assert affected(advisory, Package("Maven", "g:a", "1.0", "a.jar"))


def test_withdrawn_advisories_parse_but_match_nothing() -> None:
    (withdrawn,) = [a for a in advisories() if a.id == "GHSA-wwww-wwww-wwww"]
    assert withdrawn.is_withdrawn
    assert not affected(withdrawn, Package("npm", "lodash", "1.0.0", "p"))


# --- severity ------------------------------------------------------------------------------------


def severity_of(**kw: Any) -> str:
    advisory = one("npm", "pkg", semver(), **kw)
    (finding,) = match([Package("npm", "pkg", "1.0.0", "p")], index([advisory]))
    return finding.severity


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"severity": v3(CRITICAL_98)}, "CRITICAL"),
        ({"severity": v3(HIGH_75)}, "HIGH"),
        ({"severity": v3(MEDIUM_61)}, "MEDIUM"),
        ({"severity": v3(LOW_31)}, "LOW"),
        ({"severity": v3("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N")}, "INFORMATIONAL"),
        ({"severity": [{"type": "CVSS_V4", "score": CRITICAL_V4}]}, "CRITICAL"),
        ({"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}, "HIGH"),
        ({"severity": [{"type": "Ubuntu", "score": "negligible"}]}, "INFORMATIONAL"),
        ({"database_specific": {"severity": "CRITICAL"}}, "CRITICAL"),
        ({"database_specific": {"severity": "moderate"}}, "MEDIUM"),
        ({"ecosystem_specific": {"urgency": "unimportant"}}, "INFORMATIONAL"),
        ({"ecosystem_specific": {"urgency": "not yet assigned"}}, "UNDEFINED"),
        # CVSS v3 wins over labels, labels over CVSS v2
        ({"severity": v3(LOW_31), "database_specific": {"severity": "HIGH"}}, "LOW"),
        (
            {
                "severity": [{"type": "CVSS_V2", "score": HEARTBLEED_V2}],
                "database_specific": {"severity": "LOW"},
            },
            "LOW",
        ),
        ({"severity": v3("CVSS:3.1/garbage")}, "UNDEFINED"),
        ({}, "UNDEFINED"),
    ],
)
def test_severity(kw: dict[str, Any], expected: str) -> None:
    assert severity_of(**kw) == expected


def test_two_advisories_of_one_cve_give_one_finding_with_the_higher_severity() -> None:
    low = record("GHSA-1", "npm", "pkg", semver(), aliases=["CVE-2024-9999"], severity=v3(LOW_31))
    high = record("GO-1", "npm", "pkg", semver(), aliases=["CVE-2024-9999"], severity=v3(HIGH_75))
    got = match([Package("npm", "pkg", "1.0.0", "p")], index(map(parse_advisory, [low, high])))
    assert [(f.name, f.severity, f.advisory_id) for f in got] == [("CVE-2024-9999", "HIGH", "GO-1")]


def test_match_asks_the_lookup_with_base_ecosystem_and_advisory_names() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(ecosystem: str, name: str) -> list[Advisory]:
        asked.append((ecosystem, name))
        return []

    match(
        [
            Package("Debian", "libssl3", "1", "s", "openssl", DEBIAN),
            Package("Rocky Linux", "openssl-libs", "1", "s", "openssl", "Rocky Linux:9"),
            Package("PyPI", "PyYAML", "1", "m"),
        ],
        lookup,
    )
    assert asked == [
        ("Debian", "openssl"),
        ("Rocky Linux", "openssl-libs"),
        ("Rocky Linux", "openssl"),
        ("PyPI", "pyyaml"),
    ]


# --- parsing -------------------------------------------------------------------------------------


def test_parse_advisory_fields() -> None:
    advisory = parse_advisory(RECORDS[0])
    assert advisory.id == "DSA-5678-1"
    assert advisory.aliases == ("CVE-2024-0001", "CVE-2024-0002")
    assert advisory.references == ("https://example.test/DSA-5678-1",)
    (entry,) = advisory.affected
    assert (entry.ecosystem, entry.name, entry.labels) == ("Debian:12", "openssl", ("medium",))
    assert [(e.kind, e.version) for e in entry.ranges[0].events] == [
        ("introduced", "0"),
        ("fixed", "3.0.13-1~deb12u1"),
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("id"), "without an id"),
        (lambda r: r.update(affected="x"), "affected must be a list"),
        (lambda r: r["affected"][0].pop("package"), "without package"),
        (lambda r: r["affected"][0]["package"].pop("name"), "ecosystem and a name"),
        (
            lambda r: r["affected"][0]["ranges"][0]["events"].append(
                {"fixed": "1", "introduced": "0"}
            ),
            "exactly one",
        ),
        (
            lambda r: r["affected"][0]["ranges"][0]["events"].append({"patched": "1"}),
            "invalid range event",
        ),
        (lambda r: r["affected"][0]["ranges"][0].update(events=[]), "needs events"),
        (lambda r: r.update(summary=3), "summary must be a string"),
        (lambda r: r.update(severity={"type": "CVSS_V3"}), "severity must be a list"),
    ],
)
def test_malformed_records(mutate: Any, message: str) -> None:
    raw = json.loads(json.dumps(RECORDS[0]))
    mutate(raw)
    with pytest.raises(OsvError, match=message):
        parse_advisory(raw)


# --- loading -------------------------------------------------------------------------------------


def write(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def test_load_records_from_a_file(tmp_path: Path) -> None:
    single = write(tmp_path / "GHSA-1.json", RECORDS[0])
    assert list(load_records(single)) == [RECORDS[0]]
    several = write(tmp_path / "all.json", RECORDS[:3])
    assert list(load_records(str(several))) == RECORDS[:3]


def test_load_records_from_a_folder(tmp_path: Path) -> None:
    for i, raw in enumerate(RECORDS):
        write(
            tmp_path / raw["affected"][0]["package"]["ecosystem"].split(":")[0] / f"{i}.json", raw
        )
    (tmp_path / "README.md").write_text("not a record")
    loaded = list(load_records(tmp_path))
    assert sorted(r["id"] for r in loaded) == sorted(r["id"] for r in RECORDS)


def test_load_records_from_an_osv_zip_export(tmp_path: Path) -> None:
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as archive:
        for raw in RECORDS:
            archive.writestr(f"{raw['id']}.json", json.dumps(raw))
        archive.writestr("notes.txt", "ignored")
    loaded = [parse_advisory(r) for r in load_records(export)]
    assert [a.id for a in loaded] == [r["id"] for r in RECORDS]
    got = {
        (f.name, f.package.name, f.package.version, f.severity)
        for f in match(PACKAGES, index(loaded))
    }
    assert got == EXPECTED


def test_load_records_errors(tmp_path: Path) -> None:
    with pytest.raises(OsvError, match="no such file"):
        list(load_records(tmp_path / "missing"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OsvError, match=r"bad\.json: not valid JSON"):
        list(load_records(bad))
    write(tmp_path / "list.json", [1, 2])
    with pytest.raises(OsvError, match="JSON object"):
        list(load_records(tmp_path / "list.json"))


# --- Alpine versions, with apk-tools' own ordering ------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [  # from apk-tools' test/unit/version.data, plus versions Alpine ships
        ("2.34", "0.1.0_alpha", 1),
        ("0.1.0_alpha2", "0.1.0_alpha", 1),
        ("1.1", "1.1_alpha1", 1),
        ("1.0.4-r3", "1.0.4-r4", -1),
        ("0.7-r1", "1.0.0", -1),
        ("1.0_p1", "1.0", 1),
        ("1.0_rc1", "1.0_pre1", 1),
        ("1.0_git20230101", "1.0", 1),
        ("1.2.4_git20230717-r4", "1.2.4_git20230717-r5", -1),
        ("1.2.4_git20230717-r4", "1.2.4-r10", 1),
        ("1.0-r9", "1.0-r10", -1),
        ("1.01", "1.1", -1),  # leading zeros compare as strings
        ("1.2a", "1.2b", -1),
        ("1.0_pre2~1234abcd", "1.0_pre2~1234abce", -1),
        ("3.1.4-r3", "3.1.4-r3", 0),
    ],
)
def test_apk_version_order(a: str, b: str, order: int) -> None:
    assert compare(a, b) == order
    assert compare(b, a) == -order


@pytest.mark.parametrize("version", ["1.0bc1", "1.0_foobar", "1.0-r", "a", "-r1", "1.0-r2-r3", ""])
def test_apk_invalid_versions(version: str) -> None:
    assert not is_valid(version)


def test_alpine_git_snapshot_versions_match() -> None:
    advisory = one("Alpine:v3.19", "musl", eco(fixed="1.2.4_git20230717-r5"))
    old = Package("Alpine", "musl", "1.2.4_git20230717-r4", "i", "musl", "Alpine:v3.19")
    new = Package("Alpine", "musl", "1.2.5-r0", "i", "musl", "Alpine:v3.19")
    assert affected(advisory, old)
    assert not affected(advisory, new)
