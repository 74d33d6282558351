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


def test_guide_section_4_policies_mean_what_they_mean_on_aws(
    tmp_path: Path, podman: Podman, berth_process: BerthProcess
) -> None:
    """4.1's identity policy for a CI user, 4.2's repository policy for another account's role:
    IAM, STS and ECR through the aws CLI, the registry through podman."""
    berth_process.start(env={"BERTH_CREATE_ON_PUSH": "0"})
    root_env = {**aws_env(tmp_path, berth_process), "AWS_DEFAULT_REGION": "us-east-1"}

    def aws(env: dict[str, str], *args: str, ok: bool = True) -> Any:
        result = subprocess.run([AWS, *args], capture_output=True, env=env, timeout=60)
        if ok and result.returncode != 0:
            pytest.fail(f"aws {' '.join(args)}:\n{result.stderr.decode(errors='replace')}")
        if not ok:
            assert result.returncode != 0, f"aws {' '.join(args)} should have been refused"
            return result.stderr.decode()
        return json.loads(result.stdout or b"{}")

    def as_key(key: dict[str, str]) -> dict[str, str]:
        env = {**root_env, "AWS_ACCESS_KEY_ID": key["AccessKeyId"]}
        env["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
        if "SessionToken" in key:
            env["AWS_SESSION_TOKEN"] = key["SessionToken"]
        return env

    aws(root_env, "ecr", "create-repository", "--repository-name", "my-application")
    aws(root_env, "ecr", "create-repository", "--repository-name", "someone-else")
    guide_41 = tmp_path / "ecr-access.json"
    guide_41.write_text(
        GUIDE_IDENTITY_POLICY.replace("region", "us-east-1")
        .replace("account-id", "000000000000")
        .replace("repository-name", "my-application")
    )
    aws(root_env, "iam", "create-user", "--user-name", "ci")
    aws(root_env, "iam", "put-user-policy", "--user-name", "ci", "--policy-name", "ECRAccess",
        "--policy-document", f"file://{guide_41}")  # fmt: skip
    ci = as_key(aws(root_env, "iam", "create-access-key", "--user-name", "ci")["AccessKey"])
    assert aws(ci, "sts", "get-caller-identity")["Arn"] == "arn:aws:iam::000000000000:user/ci"

    # As on AWS, the guide's policy cannot grant GetAuthorizationToken: that action's resource
    # is "*", and the policy names a repository.
    refused = aws(ci, "ecr", "get-login-password", ok=False)
    assert "AccessDeniedException" in refused
    assert "ecr:GetAuthorizationToken on resource: *" in refused
    login_policy = allow("ecr:GetAuthorizationToken", "*")
    aws(root_env, "iam", "put-user-policy", "--user-name", "ci", "--policy-name", "Login",
        "--policy-document", login_policy)  # fmt: skip

    password = subprocess.run(
        [AWS, "ecr", "get-login-password"], capture_output=True, env=ci, check=True, timeout=60
    ).stdout.decode()
    podman("login", "--username", "AWS", "--password-stdin", "--tls-verify=false",
           berth_process.host, stdin=password)  # fmt: skip
    context = tmp_path / "context"
    context.mkdir()
    (context / "Containerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    (context / "app.txt").write_text("section 4\n")
    image = f"{berth_process.host}/my-application:v1"
    podman("build", "--quiet", "-t", image, str(context))
    podman("push", "--tls-verify=false", image)
    podman("rmi", "--force", image)
    podman("pull", "--tls-verify=false", image)
    elsewhere = f"{berth_process.host}/someone-else:v1"
    podman("tag", image, elsewhere)
    denied = podman.run("push", "--tls-verify=false", elsewhere)
    assert denied.returncode != 0
    assert b"403 (Forbidden)" in denied.stderr
    denied = aws(ci, "ecr", "delete-repository", "--repository-name", "my-application", ok=False)
    assert "AccessDeniedException" in denied
    # A deactivated key stops at once, registry login included.
    aws(root_env, "iam", "update-access-key", "--user-name", "ci", "--access-key-id",
        ci["AWS_ACCESS_KEY_ID"], "--status", "Inactive")  # fmt: skip
    assert "UnrecognizedClientException" in aws(ci, "ecr", "describe-images",
        "--repository-name", "my-application", ok=False)  # fmt: skip
    gone = podman.run("pull", "--tls-verify=false", image)
    assert gone.returncode != 0

    # 4.2: a role in another account may pull once the repository policy names it.
    created = subprocess.run(
        [sys.executable, "-m", "berth", "account", "create", "--account-id", "222233334444",
         "--data-dir", str(berth_process.data_dir), "--database-url", berth_process.database_url],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    other = {
        "AccessKeyId": created.split("AWS_ACCESS_KEY_ID=")[1].split()[0],
        "SecretAccessKey": created.split("AWS_SECRET_ACCESS_KEY=")[1].split()[0],
    }
    other_env = as_key(other)
    trust = allow("sts:AssumeRole", principal="arn:aws:iam::222233334444:root")
    aws(other_env, "iam", "create-role", "--role-name", "service-role",
        "--assume-role-policy-document", trust)  # fmt: skip
    pull = allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "*")
    aws(other_env, "iam", "put-role-policy", "--role-name", "service-role", "--policy-name",
        "pull", "--policy-document", pull)  # fmt: skip
    aws(other_env, "iam", "create-user", "--user-name", "deployer")
    assume = allow("sts:AssumeRole", "arn:aws:iam::222233334444:role/service-role")
    aws(other_env, "iam", "put-user-policy", "--user-name", "deployer", "--policy-name",
        "assume", "--policy-document", assume)  # fmt: skip
    deployer = as_key(
        aws(other_env, "iam", "create-access-key", "--user-name", "deployer")["AccessKey"]
    )
    session = aws(deployer, "sts", "assume-role", "--role-arn",
        "arn:aws:iam::222233334444:role/service-role", "--role-session-name", "pull")  # fmt: skip
    role = as_key(session["Credentials"])
    get = ("ecr", "batch-get-image", "--registry-id", "000000000000",
           "--repository-name", "my-application", "--image-ids", "imageTag=v1")  # fmt: skip
    assert "AccessDeniedException" in aws(role, *get, ok=False)
    guide_42 = tmp_path / "repository-policy.json"
    guide_42.write_text(GUIDE_REPOSITORY_POLICY.replace("account-id", "222233334444"))
    aws(root_env, "ecr", "set-repository-policy", "--repository-name", "my-application",
        "--policy-text", f"file://{guide_42}")  # fmt: skip
    images = aws(role, *get)["images"]
    assert [i["imageId"]["imageTag"] for i in images] == ["v1"]
    # Pulling is all it may do.
    assert "AccessDeniedException" in aws(role, "ecr", "put-image", "--registry-id",
        "000000000000", "--repository-name", "my-application", "--image-tag", "v2",
        "--image-manifest", images[0]["imageManifest"], ok=False)  # fmt: skip

    # The server's log: one JSON access line per request, and no secret of the whole session.
    log = berth_process.log()
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert access and all(len(entry["request_id"]) >= 32 for entry in access)
    assert {"method", "path", "status", "duration_ms"} <= set(access[0])
    secrets = [ROOT_SECRET, password, ci["AWS_SECRET_ACCESS_KEY"], other["SecretAccessKey"]]
    secrets += [role["AWS_SECRET_ACCESS_KEY"], role["AWS_SESSION_TOKEN"]]
    trail = aws(root_env, "cloudtrail", "lookup-events", "--max-results", "50")
    for secret in secrets:
        assert secret not in log
        assert secret not in json.dumps(trail)


def allow(action: str | list[str], resource: str = "", principal: str = "") -> str:
    """A one-statement Allow policy (with a Principal: a trust policy)."""
    grant: dict[str, Any] = {"Effect": "Allow", "Action": action}
    if resource:
        grant["Resource"] = resource
    if principal:
        grant["Principal"] = {"AWS": principal}
    return json.dumps({"Version": "2012-10-17", "Statement": [grant]})


# Section 4.1 and 4.2 of the guide, verbatim (placeholders included).
GUIDE_IDENTITY_POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ECRAccess",
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetRepositoryPolicy",
                "ecr:DescribeRepositories",
                "ecr:ListImages",
                "ecr:DescribeImages",
                "ecr:BatchGetImage",
                "ecr:PutImage",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload"
            ],
            "Resource": "arn:aws:ecr:region:account-id:repository/repository-name"
        }
    ]
}"""
GUIDE_REPOSITORY_POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowPull",
            "Effect": "Allow",
            "Principal": {
                "AWS": "arn:aws:iam::account-id:role/service-role"
            },
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer"
            ]
        }
    ]
}"""
