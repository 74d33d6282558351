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
