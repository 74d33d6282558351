"""Image scanning through boto3: scan on push, the waiter, findings and their counts, rescans,
errors, the registry scanning configuration, DescribeImages' summaries, SBOMs."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest

from berth import cli
from berth.app import create_app
from berth.config import Settings
from tests.api.helpers import OCI_INDEX, OCI_MANIFEST, push_blob, sha256
from tests.api.scan_helpers import (
    GZIP_LAYER,
    Machine,
    alpine_layers,
    debian_layers,
    expected_debian_findings,
    findings_of,
    machine,
    osv_records,
    push_layers,
    vulndb,
    write_osv,
)
from tests.conftest import RunningRegistry, ecr_client, registry_password, serving
from tests.unit.scan.builders import file, layer

RESCAN_INTERVAL = 4.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Workers that look for queued scans often, and a short rescan interval."""
    return settings.model_copy(
        update={"scan_poll_interval": 0.2, "scan_rescan_interval": RESCAN_INTERVAL}
    )


@pytest.fixture
def here() -> Machine:
    return machine()


@pytest.fixture
def osv_db(
    registry: RunningRegistry, here: Machine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The OSV fixture, imported with `berth vulndb import` while Berth serves."""
    out = vulndb(
        registry.settings, capsys, "import", str(write_osv(tmp_path / "osv", osv_records(here)))
    )
    assert "imported 9 new and 0 updated records" in out


def wait(ecr: Any, name: str, image_id: dict[str, str]) -> None:
    ecr.get_waiter("image_scan_complete").wait(
        repositoryName=name, imageId=image_id, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def all_findings(ecr: Any, name: str, image_id: dict[str, str], page: int) -> list[dict[str, Any]]:
    paginator = ecr.get_paginator("describe_image_scan_findings")
    found: list[dict[str, Any]] = []
    pages = 0
    for response in paginator.paginate(
        repositoryName=name, imageId=image_id, PaginationConfig={"PageSize": page}
    ):
        found += response["imageScanFindings"]["findings"]
        pages += 1
    assert pages == max(1, -(-len(found) // page))
    return found


def test_scan_on_push_reports_exactly_the_vulnerable_packages(
    registry: RunningRegistry, osv_db: None, here: Machine
) -> None:
    ecr = registry.ecr
    ecr.create_repository(
        repositoryName="scan/debian", imageScanningConfiguration={"scanOnPush": True}
    )
    started = time.monotonic()
    digest = push_layers(registry.client, "scan/debian", "v1", debian_layers())
    assert time.monotonic() - started < 5  # the push does not wait for the scan
    image_id = {"imageTag": "v1"}
    wait(ecr, "scan/debian", image_id)

    response = ecr.describe_image_scan_findings(repositoryName="scan/debian", imageId=image_id)
    assert response["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert response["imageScanStatus"]["status"] == "COMPLETE"
    expected = expected_debian_findings(here)
    assert findings_of(response) == expected
    findings = response["imageScanFindings"]
    assert findings["findingSeverityCounts"] == dict(Counter(expected.values()))
    assert findings["imageScanCompletedAt"] >= findings["vulnerabilitySourceUpdatedAt"]
    # Most severe first; ECR's attribute names; the uri and text of the advisory.
    assert [f["severity"] for f in findings["findings"]][-1] == "MEDIUM"
    httpx_finding = next(f for f in findings["findings"] if f["name"] == "CVE-2099-1001")
    assert httpx_finding["uri"] == "https://example.test/GHSA-aaaa-bbbb-cccc"
    assert httpx_finding["description"] == "details of GHSA-aaaa-bbbb-cccc"
    glibc = next(f for f in findings["findings"] if f["name"] == "CVE-2099-0001")
    attributes = {a["key"]: a["value"] for a in glibc["attributes"]}
    assert attributes["CVSS3_SCORE"] == "9.8"
    assert attributes["CVSS3_VECTOR"].startswith("CVSS:3.1/AV:N")
    assert attributes["package_version"]

    # Pages of one finding each give the same findings.
    paged = all_findings(ecr, "scan/debian", image_id, 1)
    assert paged == findings["findings"]

    # DescribeImages carries the status and the summary.
    detail = ecr.describe_images(repositoryName="scan/debian")["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    summary = detail["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == dict(Counter(expected.values()))
    assert summary["imageScanCompletedAt"] == findings["imageScanCompletedAt"]


def test_alpine_apk_database(registry: RunningRegistry, osv_db: None) -> None:
    ecr = registry.ecr
    ecr.create_repository(repositoryName="scan/alpine")
    digest = push_layers(registry.client, "scan/alpine", "3.19", alpine_layers())
    # Not scanned on push: the repository does not ask for it.
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="scan/alpine", imageId={"imageTag": "3.19"})
    started = ecr.start_image_scan(repositoryName="scan/alpine", imageId={"imageDigest": digest})
    assert started["imageId"] == {"imageDigest": digest}
    assert started["imageScanStatus"]["status"] in ("PENDING", "IN_PROGRESS", "COMPLETE")
    wait(ecr, "scan/alpine", {"imageDigest": digest})
    response = ecr.describe_image_scan_findings(
        repositoryName="scan/alpine", imageId={"imageDigest": digest}
    )
    assert findings_of(response) == {("CVE-2099-2001", "musl"): "HIGH"}


def test_rescan_is_rate_limited_and_sees_a_newer_database(
    registry: RunningRegistry,
    osv_db: None,
    here: Machine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ecr = registry.ecr
    ecr.create_repository(
        repositoryName="scan/again", imageScanningConfiguration={"scanOnPush": True}
    )
    push_layers(registry.client, "scan/again", "v1", debian_layers())
    image_id = {"imageTag": "v1"}
    with pytest.raises(ecr.exceptions.LimitExceededException) as raised:
        ecr.start_image_scan(repositoryName="scan/again", imageId=image_id)
    assert "scan quota per image has been exceeded" in str(raised.value)
    wait(ecr, "scan/again", image_id)
    first = ecr.describe_image_scan_findings(repositoryName="scan/again", imageId=image_id)

    # The httpx advisory is modified: now fixed below the installed version. The import
    # replaces only that record.
    records = osv_records(here)
    ghsa = next(r for r in records if r["id"] == "GHSA-aaaa-bbbb-cccc")
    ghsa["modified"] = "2024-04-01T00:00:00Z"
    ghsa["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "0.0.1"}]
    out = vulndb(registry.settings, capsys, "import", str(write_osv(tmp_path / "osv2", records)))
    assert "imported 0 new and 1 updated records (8 unchanged, 0 invalid)" in out

    time.sleep(RESCAN_INTERVAL)
    ecr.start_image_scan(repositoryName="scan/again", imageId=image_id)
    wait(ecr, "scan/again", image_id)
    second = ecr.describe_image_scan_findings(repositoryName="scan/again", imageId=image_id)
    expected = expected_debian_findings(here)
    del expected[("CVE-2099-1001", "httpx")]
    assert findings_of(second) == expected
    assert (
        second["imageScanFindings"]["vulnerabilitySourceUpdatedAt"]
        > first["imageScanFindings"]["vulnerabilitySourceUpdatedAt"]
    )

    status = vulndb(registry.settings, capsys, "status")
    assert status.startswith("9 vulnerability records")
    assert "  PyPI: 3" in status and "  Debian: 4" in status and "  Alpine: 2" in status


def test_a_corrupt_layer_fails_the_scan_and_the_image_stays_pullable(
    registry: RunningRegistry, osv_db: None
) -> None:
    ecr, client = registry.ecr, registry.client
    good = debian_layers()[0]
    # A gzip header, then garbage: a blob the registry stores as it stores any other.
    corrupt = gzip.compress(b"x" * 10_000)[:40] + b"\x00garbage" * 50
    digest = push_layers(client, "scan/corrupt", "v1", [good, (GZIP_LAYER, corrupt)])
    ecr.start_image_scan(repositoryName="scan/corrupt", imageId={"imageTag": "v1"})
    with pytest.raises(botocore.exceptions.WaiterError, match="FAILED"):
        wait(ecr, "scan/corrupt", {"imageTag": "v1"})
    response = ecr.describe_image_scan_findings(
        repositoryName="scan/corrupt", imageId={"imageTag": "v1"}
    )
    status = response["imageScanStatus"]
    assert status["status"] == "FAILED"
    assert "layer 1 is corrupt" in status["description"]
    assert "imageScanFindings" not in response
    detail = ecr.describe_images(repositoryName="scan/corrupt")["imageDetails"][0]
    assert detail["imageScanStatus"] == status
    assert "imageScanFindingsSummary" not in detail
    # Still pullable, byte for byte.
    manifest = client.get(f"/v2/scan/corrupt/manifests/{digest}")
    assert manifest.status_code == 200
    blob = client.get(f"/v2/scan/corrupt/blobs/{sha256(corrupt)}")
    assert blob.status_code == 200 and blob.content == corrupt


def test_what_cannot_be_scanned(registry: RunningRegistry) -> None:
    ecr, client = registry.ecr, registry.client
    plain = [(GZIP_LAYER, layer([file("hello.txt", "hello\n")]))]
    image = push_layers(client, "scan/kinds", "image", plain)
    manifest = client.get(f"/v2/scan/kinds/manifests/{image}").content
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": image, "size": len(manifest)}],
        }
    ).encode()
    response = client.put(
        "/v2/scan/kinds/manifests/index", content=index, headers={"Content-Type": OCI_INDEX}
    )
    assert response.status_code == 201
    empty = push_blob(client, "scan/kinds", b"{}")
    artifact = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.thing",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": empty,
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    response = client.put(
        "/v2/scan/kinds/manifests/artifact",
        content=artifact,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201
    for tag in ("index", "artifact"):
        with pytest.raises(ecr.exceptions.UnsupportedImageTypeException):
            ecr.start_image_scan(repositoryName="scan/kinds", imageId={"imageTag": tag})
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.start_image_scan(repositoryName="scan/kinds", imageId={"imageTag": "nope"})
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_image_scan_findings(
            repositoryName="scan/kinds", imageId={"imageDigest": "sha256:" + "0" * 64}
        )
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.start_image_scan(repositoryName="scan/none", imageId={"imageTag": "x"})
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="scan/kinds", imageId={"imageTag": "image"})
    # An image without any package database scans to no findings.
    ecr.start_image_scan(repositoryName="scan/kinds", imageId={"imageTag": "image"})
    wait(ecr, "scan/kinds", {"imageTag": "image"})
    response = ecr.describe_image_scan_findings(
        repositoryName="scan/kinds", imageId={"imageTag": "image"}
    )
    assert response["imageScanFindings"]["findings"] == []
    assert response["imageScanFindings"]["findingSeverityCounts"] == {}
    details = {
        d["imageDigest"]: d
        for d in ecr.describe_images(repositoryName="scan/kinds")["imageDetails"]
    }
    assert details[image]["imageScanFindingsSummary"]["findingSeverityCounts"] == {}
    assert sum("imageScanStatus" in d for d in details.values()) == 1


def test_registry_scanning_configuration(registry: RunningRegistry, osv_db: None) -> None:
    ecr = registry.ecr
    initial = ecr.get_registry_scanning_configuration()
    assert initial["registryId"] == "000000000000"
    assert initial["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [
        {
            "scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
        },
        {
            "scanFrequency": "MANUAL",
            "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
        },
    ]
    put = ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "BASIC", "rules": rules}
    got = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert got == {"scanType": "BASIC", "rules": rules}

    for refused in (
        {"scanType": "ENHANCED", "rules": []},
        {
            "scanType": "BASIC",
            "rules": [
                {
                    "scanFrequency": "CONTINUOUS_SCAN",
                    "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
                }
            ],
        },
    ):
        with pytest.raises(ecr.exceptions.InvalidParameterException, match="not"):
            ecr.put_registry_scanning_configuration(**refused)
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules

    ecr.create_repository(repositoryName="prod-api")
    ecr.create_repository(repositoryName="dev-api", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="test-api")
    found = ecr.batch_get_repository_scanning_configuration(
        repositoryNames=["prod-api", "dev-api", "test-api", "missing"]
    )
    by_name = {c["repositoryName"]: c for c in found["scanningConfigurations"]}
    assert by_name["prod-api"]["scanOnPush"] is True
    assert by_name["prod-api"]["scanFrequency"] == "SCAN_ON_PUSH"
    assert by_name["prod-api"]["appliedScanFilters"] == rules[0]["repositoryFilters"]
    assert by_name["prod-api"]["repositoryArn"].endswith(":repository/prod-api")
    assert by_name["dev-api"]["scanOnPush"] is True
    assert by_name["test-api"]["scanOnPush"] is False
    assert by_name["test-api"]["scanFrequency"] == "MANUAL"
    assert by_name["test-api"]["appliedScanFilters"] == rules[1]["repositoryFilters"]
    assert [f["repositoryName"] for f in found["failures"]] == ["missing"]
    assert found["failures"][0]["failureCode"] == "REPOSITORY_NOT_FOUND"

    # A push into a repository a SCAN_ON_PUSH rule matches is scanned; elsewhere it is not.
    push_layers(registry.client, "prod-api", "v1", alpine_layers())
    push_layers(registry.client, "test-api", "v1", alpine_layers())
    wait(ecr, "prod-api", {"imageTag": "v1"})
    with pytest.raises(ecr.exceptions.ScanNotFoundException):
        ecr.describe_image_scan_findings(repositoryName="test-api", imageId={"imageTag": "v1"})


def sbom_cli(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(
        [
            "sbom",
            *("--data-dir", str(settings.data_dir)),
            *("--database-url", settings.sqlalchemy_url),
            *args,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_sbom_from_the_scan_and_pushed_as_a_referrer(
    registry: RunningRegistry, osv_db: None, here: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr = registry.ecr
    ecr.create_repository(
        repositoryName="scan/sbom", imageScanningConfiguration={"scanOnPush": True}
    )
    digest = push_layers(registry.client, "scan/sbom", "v1", debian_layers())
    wait(ecr, "scan/sbom", {"imageTag": "v1"})
    code, out = sbom_cli(registry.settings, capsys, "scan/sbom:v1")
    assert code == 0, out
    document = json.loads(out)
    assert document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["version"] == digest
    names = {c["name"] for c in document["components"]}
    assert set(here.glibc_binaries) <= names
    assert "httpx" in names and "idna" not in names
    # The same document from the registry API (a Berth extension), for a logged-in reader.
    served = registry.client.get("/v2/scan/sbom/sbom/v1")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/vnd.cyclonedx+json")
    assert served.headers["Docker-Content-Digest"] == digest
    assert {c["name"] for c in served.json()["components"]} == names
    assert registry.client.get("/v2/scan/sbom/sbom/nope").status_code == 404
    anonymous = httpx.get(f"{registry.url}/v2/scan/sbom/sbom/v1")
    assert anonymous.status_code == 401

    code, out = sbom_cli(registry.settings, capsys, f"scan/sbom@{digest}", "--push")
    assert code == 0, out
    referrers = registry.client.get(f"/v2/scan/sbom/referrers/{digest}").json()["manifests"]
    assert [r["artifactType"] for r in referrers] == ["application/vnd.cyclonedx+json"]
    artifact = registry.client.get(f"/v2/scan/sbom/manifests/{referrers[0]['digest']}").json()
    pushed = registry.client.get(f"/v2/scan/sbom/blobs/{artifact['layers'][0]['digest']}").json()
    assert {c["name"] for c in pushed["components"]} == names

    code, out = sbom_cli(registry.settings, capsys, "scan/sbom:nope")
    assert code == 1 and "does not exist" in out


def test_queued_scans_survive_a_restart(
    settings: Settings,
    here: Machine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A scan queued by a process without workers is done by the next one to start."""
    idle = settings.model_copy(update={"scan_workers": 0})
    with serving(create_app(idle), settings.port) as url:
        ecr = ecr_client(url)
        ecr.create_repository(
            repositoryName="scan/later", imageScanningConfiguration={"scanOnPush": True}
        )
        with httpx.Client(base_url=url, auth=("AWS", registry_password(url)), timeout=30) as client:
            push_layers(client, "scan/later", "v1", alpine_layers())
        time.sleep(0.5)
        status = ecr.describe_image_scan_findings(
            repositoryName="scan/later", imageId={"imageTag": "v1"}
        )["imageScanStatus"]["status"]
        assert status == "PENDING"
    vulndb(settings, capsys, "import", str(write_osv(tmp_path / "osv", osv_records(here))))
    with serving(create_app(settings), settings.port) as url:
        ecr = ecr_client(url)
        wait(ecr, "scan/later", {"imageTag": "v1"})
        response = ecr.describe_image_scan_findings(
            repositoryName="scan/later", imageId={"imageTag": "v1"}
        )
        assert findings_of(response) == {("CVE-2099-2001", "musl"): "HIGH"}
