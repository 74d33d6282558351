"""Scan on push end to end: `berth vulndb import` while Berth serves, a real `podman push` into
a scanOnPush repository, then `aws ecr wait image-scan-complete` and
`aws ecr describe-image-scan-findings`."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.scan_helpers import (
    KEPT,
    expected_debian_findings,
    findings_of,
    machine,
    osv_records,
    write_osv,
)
from tests.e2e.conftest import BerthProcess, Podman
from tests.e2e.test_guide import AWS, aws_env

pytestmark = pytest.mark.e2e


def test_podman_push_is_scanned(
    tmp_path: Path, podman: Podman, berth_process: BerthProcess
) -> None:
    here = machine()
    berth_process.start()
    osv = write_osv(tmp_path / "osv", osv_records(here))
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "berth",
            "vulndb",
            "import",
            "--data-dir",
            str(berth_process.data_dir),
            "--database-url",
            berth_process.database_url,
            str(osv),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported 9 new" in imported.stdout

    env = {**aws_env(tmp_path, berth_process), "AWS_DEFAULT_REGION": "us-east-1"}

    def aws(*args: str) -> Any:
        result = subprocess.run([AWS, "ecr", *args], capture_output=True, env=env, timeout=400)
        if result.returncode != 0:
            pytest.fail(f"aws ecr {' '.join(args)}:\n{result.stderr.decode(errors='replace')}")
        out = result.stdout.decode()
        return json.loads(out) if out.strip() else None

    aws(
        "create-repository", "--repository-name", "scanned-app",
        "--image-scanning-configuration", "scanOnPush=true",
    )  # fmt: skip

    # An image of this machine's dpkg database and a Python distribution from the venv.
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy("/etc/os-release", context / "os-release")
    shutil.copy("/var/lib/dpkg/status", context / "status")
    dist = importlib.metadata.distribution(KEPT)
    folder = Path(str(dist._path))  # type: ignore[attr-defined]
    shutil.copytree(folder, context / folder.name)
    site = "/usr/local/lib/python3.11/site-packages"
    (context / "Containerfile").write_text(
        "FROM scratch\n"
        "COPY os-release /etc/os-release\n"
        "COPY status /var/lib/dpkg/status\n"
        f"COPY {folder.name} {site}/{folder.name}\n"
    )
    image = f"{berth_process.host}/scanned-app:latest"
    podman("build", "--quiet", "-t", image, str(context))
    podman(
        "login", "--tls-verify=false", "--username", "AWS", "--password-stdin",
        berth_process.host, stdin=berth_process.password(),
    )  # fmt: skip
    podman("push", "--tls-verify=false", image)

    aws(
        "wait", "image-scan-complete", "--repository-name", "scanned-app",
        "--image-id", "imageTag=latest",
    )  # fmt: skip
    response = aws(
        "describe-image-scan-findings", "--repository-name", "scanned-app",
        "--image-id", "imageTag=latest",
    )  # fmt: skip
    assert response["imageScanStatus"]["status"] == "COMPLETE"
    assert findings_of(response) == expected_debian_findings(here)
    described = aws("describe-images", "--repository-name", "scanned-app")["imageDetails"]
    assert described[0]["imageScanStatus"]["status"] == "COMPLETE"
    assert (
        described[0]["imageScanFindingsSummary"]["findingSeverityCounts"]
        == response["imageScanFindings"]["findingSeverityCounts"]
    )
