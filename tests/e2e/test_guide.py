"""The guide's sections 2.1, 2.2 and 3.1, verbatim against Berth: the aws CLI creates the
repository and hands out the login, podman logs in and pushes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.lifecycle_helpers import age_image
from tests.conftest import ROOT_KEY_ID, ROOT_SECRET
from tests.e2e.conftest import BerthProcess, Podman

pytestmark = pytest.mark.e2e

AWS = str(Path(sys.executable).with_name("aws"))


def aws_env(home: Path, berth: BerthProcess) -> dict[str, str]:
    """The aws CLI with the root key and nothing from the machine's AWS configuration; the only
    change to the guide is where the endpoint is."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": berth.url,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }


def test_guide_workflow(tmp_path: Path, podman: Podman, berth_process: BerthProcess) -> None:
    # As the guide's user would have it: nothing is created by pushing.
    berth_process.start(env={"BERTH_CREATE_ON_PUSH": "0"})
    env = aws_env(tmp_path, berth_process)

    def aws(*args: str) -> Any:
        result = subprocess.run([AWS, "ecr", *args], capture_output=True, env=env, timeout=60)
        if result.returncode != 0:
            pytest.fail(f"aws ecr {' '.join(args)}:\n{result.stderr.decode(errors='replace')}")
        return result.stdout.decode()

    created = json.loads(
        aws(
            "create-repository", "--repository-name", "my-application",
            "--image-scanning-configuration", "scanOnPush=true",
            "--encryption-configuration", "encryptionType=KMS",
            "--region", "ap-northeast-2",
        )
    )["repository"]  # fmt: skip
    assert created["repositoryUri"] == f"{berth_process.host}/my-application"
    assert created["encryptionConfiguration"]["encryptionType"] == "KMS"

    password = aws("get-login-password", "--region", "ap-northeast-2")
    login = podman(
        "login", "--username", "AWS", "--password-stdin", "--tls-verify=false",
        berth_process.host, stdin=password,
    )  # fmt: skip
    assert "Login Succeeded" in login

    context = tmp_path / "context"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    (context / "app.txt").write_text("my application\n")
    podman("build", "--quiet", "-t", "my-application:latest", str(context))
    image = f"{berth_process.host}/my-application:latest"
    podman("tag", "my-application:latest", image)
    podman("push", "--tls-verify=false", image)

    described = json.loads(
        aws("describe-images", "--repository-name", "my-application", "--region", "ap-northeast-2")
    )["imageDetails"]
    assert [d["imageTags"] for d in described] == [["latest"]]

    # Without create-on-push, a push to a repository nobody created fails as on ECR.
    other = f"{berth_process.host}/not-created:latest"
    podman("tag", "my-application:latest", other)
    refused = podman.run("push", "--tls-verify=false", other)
    assert refused.returncode != 0
    assert b"does not exist in the registry with id" in refused.stderr


def test_aws_cli_errors(tmp_path: Path, berth_process: BerthProcess) -> None:
    berth_process.start()
    env = {**aws_env(tmp_path, berth_process), "AWS_DEFAULT_REGION": "ap-northeast-2"}

    def aws(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AWS, "ecr", *args], capture_output=True, text=True, env={**env, **extra}, timeout=60
        )

    missing = aws("describe-repositories", "--repository-names", "nope")
    assert missing.returncode != 0
    assert "(RepositoryNotFoundException)" in missing.stderr
    assert "The repository with name 'nope' does not exist" in missing.stderr
    wrong = aws("get-login-password", AWS_SECRET_ACCESS_KEY="wrong")
    assert wrong.returncode != 0
    assert "(InvalidSignatureException)" in wrong.stderr
    invalid = aws("create-repository", "--repository-name", "UPPER")
    assert invalid.returncode != 0
    assert "(InvalidParameterException)" in invalid.stderr
    listed = aws("describe-repositories")
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == {"repositories": []}


# Section 3.2's lifecycle policy, verbatim.
GUIDE_LIFECYCLE_POLICY = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep last 30 days images",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""


def test_guide_lifecycle_policy_expires_and_space_comes_back(
    tmp_path: Path, podman: Podman, berth_process: BerthProcess
) -> None:
    berth_process.start()
    env = {**aws_env(tmp_path, berth_process), "AWS_DEFAULT_REGION": "us-east-1"}

    def aws(*args: str) -> Any:
        result = subprocess.run([AWS, "ecr", *args], capture_output=True, env=env, timeout=60)
        if result.returncode != 0:
            pytest.fail(f"aws ecr {' '.join(args)}:\n{result.stderr.decode(errors='replace')}")
        return json.loads(result.stdout or b"{}")

    def berth(*args: str, **extra_env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "berth", *args, "--data-dir", str(berth_process.data_dir),
             "--database-url", berth_process.database_url],
            capture_output=True, env={**os.environ, **extra_env}, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout.decode()

    aws("create-repository", "--repository-name", "my-application")
    podman(
        "login", "--username", "AWS", "--password-stdin", "--tls-verify=false",
        berth_process.host, stdin=berth_process.password(),
    )  # fmt: skip
    image = f"{berth_process.host}/my-application:latest"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY app.bin /app.bin\n")
    for build in ("old", "new"):
        # A large random layer per build, so the space coming back is visible on disk.
        (context / "app.bin").write_bytes(os.urandom(2 << 20) + build.encode())
        podman("build", "--quiet", "-t", image, str(context))
        podman("push", "--tls-verify=false", image)
    details = aws("describe-images", "--repository-name", "my-application")["imageDetails"]
    untagged = [d["imageDigest"] for d in details if not d.get("imageTags")]
    assert len(details) == 2 and len(untagged) == 1
    # Thirty-one days pass for the untagged image (the database is the only clock we can move).
    age_image(berth_process.database_url, "my-application", untagged[0], 31)

    aws("put-lifecycle-policy", "--repository-name", "my-application",
        "--lifecycle-policy-text", GUIDE_LIFECYCLE_POLICY)  # fmt: skip
    aws("start-lifecycle-policy-preview", "--repository-name", "my-application")
    subprocess.run(
        [AWS, "ecr", "wait", "lifecycle-policy-preview-complete",
         "--repository-name", "my-application"],
        check=True, env=env, timeout=120,
    )  # fmt: skip
    preview = aws("get-lifecycle-policy-preview", "--repository-name", "my-application")
    assert [r["imageDigest"] for r in preview["previewResults"]] == untagged

    before = sum(
        p.stat().st_size for p in (berth_process.data_dir / "blobs").rglob("*") if p.is_file()
    )
    assert untagged[0] in berth("lifecycle", "run")
    details = aws("describe-images", "--repository-name", "my-application")["imageDetails"]
    assert [d["imageTags"] for d in details] == [["latest"]]

    reclaimed = berth("gc", BERTH_GC_GRACE="0")
    assert "reclaimed 2.0 MiB" in reclaimed, reclaimed
    after = sum(
        p.stat().st_size for p in (berth_process.data_dir / "blobs").rglob("*") if p.is_file()
    )
    assert before - after >= 2 << 20
    # The image that stayed still pulls whole.
    podman("rmi", "--force", image)
    podman("pull", "--tls-verify=false", image)
