"""podman, the guide's stand-in for docker, builds, pushes and pulls through `berth serve`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import BerthProcess, Podman

pytestmark = pytest.mark.e2e


def test_build_push_remove_pull(
    podman: Podman, tmp_path: Path, berth_process: BerthProcess
) -> None:
    berth_process.start()
    context = tmp_path / "context"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY a.txt /a.txt\nCOPY b.bin /b.bin\n")
    (context / "a.txt").write_text("hello from podman\n")
    (context / "b.bin").write_bytes(os.urandom(200_000))
    image = f"{berth_process.host}/my-application:latest"

    podman("build", "--quiet", "-t", image, str(context))
    built = podman("image", "inspect", "--format", "{{.Id}}", image).strip()
    # `aws ecr get-login-password | podman login --username AWS --password-stdin <host>`
    podman(
        "login",
        "--tls-verify=false",
        "--username",
        "AWS",
        "--password-stdin",
        berth_process.host,
        stdin=berth_process.password(),
    )
    auths = json.loads(Path(podman.env["REGISTRY_AUTH_FILE"]).read_text())["auths"]
    assert list(auths) == [berth_process.host]
    podman("push", "--tls-verify=false", image)

    with berth_process.client(timeout=30) as http:
        manifest = http.get("/v2/my-application/manifests/latest")
        assert manifest.status_code == 200
        assert json.loads(manifest.content)["config"]["digest"] == f"sha256:{built}"

        podman("rmi", image)
        podman("pull", "--tls-verify=false", image)
        assert podman("image", "inspect", "--format", "{{.Id}}", image).strip() == built

        docker = f"{berth_process.host}/my-application:docker"
        podman("push", "--tls-verify=false", "--format", "docker", image, docker)
        pushed = http.get("/v2/my-application/manifests/docker")
        media_type = "application/vnd.docker.distribution.manifest.v2+json"
        assert pushed.headers["Content-Type"] == media_type
        tags = http.get("/v2/my-application/tags/list").json()["tags"]
        assert tags == ["docker", "latest"]
