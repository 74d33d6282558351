"""Repository and registry policies on both APIs, with the roots of two accounts: ECR's
policy operations, explicit denies that bind even the root, and cross-account pulls that need
the repository's policy."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from berth import cli
from tests.api.helpers import push_image
from tests.conftest import RunningRegistry, ecr_client, iam_client

HOME = "000000000000"
OTHER = "222233334444"
NAME = "shared/app"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def other(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[Any, httpx.Client]]:
    """The root of a second account (made with `berth account create`): an ECR client, and a
    registry client logged in to it that addresses the first account's registry by host."""
    settings = registry.settings
    args = ["account", "create", "--account-id", OTHER, "--data-dir", str(settings.data_dir)]
    assert cli.main([*args, "--database-url", settings.sqlalchemy_url]) == 0
    out = capsys.readouterr().out
    key_id = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", out)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", out)
    assert key_id and secret
    credentials = {"key_id": key_id[1], "secret": secret[1]}
    ecr = ecr_client(registry.url, **credentials)
    password = registry_password_for(registry.url, credentials)
    with httpx.Client(
        base_url=registry.url,
        auth=("AWS", password),
        headers={"Host": f"{HOME}.dkr.ecr.us-east-1.localhost"},
        timeout=30,
    ) as client:
        yield ecr, client


def registry_password_for(url: str, credentials: dict[str, str]) -> str:
    token = ecr_client(url, **credentials).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]


def test_policy_operations(registry: RunningRegistry) -> None:
    ecr = registry.ecr
    ecr.create_repository(repositoryName=NAME)
    with pytest.raises(ClientError) as exc:
        ecr.get_repository_policy(repositoryName=NAME)
    assert error(exc) == (
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{NAME}' in the "
        f"registry with id '{HOME}'",
    )
    text = document(
        {"Sid": "AllowPull", "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": PULL}
    )
    put = ecr.set_repository_policy(repositoryName=NAME, policyText=text)
    assert (put["registryId"], put["repositoryName"], put["policyText"]) == (HOME, NAME, text)
    assert ecr.get_repository_policy(repositoryName=NAME)["policyText"] == text
    assert ecr.delete_repository_policy(repositoryName=NAME)["policyText"] == text
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository_policy(repositoryName=NAME)
    assert error(exc)[0] == "RepositoryPolicyNotFoundException"
    for bad in ("not json", document({"Effect": "Allow", "Action": PULL}), "{}"):
        with pytest.raises(ClientError) as exc:
            ecr.set_repository_policy(repositoryName=NAME, policyText=bad)
        code, message = error(exc)
        assert code == "InvalidParameterException"
        assert message.startswith("Invalid parameter at 'PolicyText' failed to satisfy constraint")
    with pytest.raises(ClientError) as exc:
        ecr.set_repository_policy(repositoryName="missing", policyText=text)
    assert error(exc)[0] == "RepositoryNotFoundException"

    with pytest.raises(ClientError) as exc:
        ecr.get_registry_policy()
    assert error(exc) == (
        "RegistryPolicyNotFoundException",
        f"Registry policy does not exist in the registry with id '{HOME}'",
    )
    assert ecr.put_registry_policy(policyText=text)["policyText"] == text
    got = ecr.get_registry_policy()
    assert (got["registryId"], got["policyText"]) == (HOME, text)
    assert ecr.delete_registry_policy()["policyText"] == text


def test_a_policy_that_would_lock_its_author_out_needs_force(registry: RunningRegistry) -> None:
    ecr = registry.ecr
    ecr.create_repository(repositoryName=NAME)
    lockout = document({"Effect": "Deny", "Principal": "*", "Action": "ecr:*"})
    with pytest.raises(ClientError) as exc:
        ecr.set_repository_policy(repositoryName=NAME, policyText=lockout)
    assert error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName=NAME)  # nothing was stored
    ecr.set_repository_policy(repositoryName=NAME, policyText=lockout, force=True)
    # Now even the root is locked out of the repository, as on AWS.
    with pytest.raises(ClientError) as exc:
        ecr.describe_images(repositoryName=NAME)
    assert error(exc) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{HOME}:root is not authorized to perform: ecr:DescribeImages on "
        f"resource: arn:aws:ecr:us-east-1:{HOME}:repository/{NAME} with an explicit deny in a "
        "resource-based policy",
    )
    response = registry.client.get(f"/v2/{NAME}/tags/list")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "DENIED"
    # Other repositories are untouched.
    ecr.create_repository(repositoryName="other/app")
    assert ecr.describe_images(repositoryName="other/app")["imageDetails"] == []


def test_explicit_deny_of_one_action_on_both_apis(registry: RunningRegistry) -> None:
    ecr = registry.ecr
    ecr.create_repository(repositoryName=NAME)
    digest, _ = push_image(registry.client, NAME, "v1")
    no_pull = document(
        {"Effect": "Deny", "Principal": "*", "Action": "ecr:BatchGetImage"},
    )
    ecr.set_repository_policy(repositoryName=NAME, policyText=no_pull)
    assert registry.client.get(f"/v2/{NAME}/manifests/v1").status_code == 403
    assert registry.client.head(f"/v2/{NAME}/manifests/{digest}").status_code == 403
    # Layers are another action, still allowed; so is listing.
    assert registry.client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1"]
    with pytest.raises(ClientError) as exc:
        ecr.batch_get_image(repositoryName=NAME, imageIds=[{"imageTag": "v1"}])
    assert error(exc)[0] == "AccessDeniedException"
    ecr.delete_repository_policy(repositoryName=NAME)
    assert registry.client.get(f"/v2/{NAME}/manifests/v1").status_code == 200


def test_cross_account_pull_needs_the_repository_policy(
    registry: RunningRegistry, other: tuple[Any, httpx.Client]
) -> None:
    other_ecr, other_client = other
    registry.ecr.create_repository(repositoryName=NAME)
    digest, _ = push_image(registry.client, NAME, "v1")

    with pytest.raises(ClientError) as exc:
        other_ecr.batch_get_image(
            registryId=HOME, repositoryName=NAME, imageIds=[{"imageTag": "v1"}]
        )
    assert error(exc) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: ecr:BatchGetImage on "
        f"resource: arn:aws:ecr:us-east-1:{HOME}:repository/{NAME} because no resource-based "
        "policy allows the ecr:BatchGetImage action",
    )
    denied = other_client.get(f"/v2/{NAME}/manifests/v1")
    assert denied.status_code == 403
    assert "because no resource-based policy allows" in denied.json()["errors"][0]["message"]

    # The other account may pull (and only pull) once the repository policy names it.
    policy = document(
        {
            "Sid": "AllowPull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": PULL,
        }
    )
    registry.ecr.set_repository_policy(repositoryName=NAME, policyText=policy)
    got = other_ecr.batch_get_image(
        registryId=HOME, repositoryName=NAME, imageIds=[{"imageTag": "v1"}]
    )
    assert got["images"][0]["imageId"]["imageDigest"] == digest
    manifest = other_client.get(f"/v2/{NAME}/manifests/v1")
    assert manifest.status_code == 200
    layer = manifest.json()["layers"][0]["digest"]
    assert other_client.get(f"/v2/{NAME}/blobs/{layer}").status_code == 200
    assert other_client.head(f"/v2/{NAME}/blobs/{layer}").status_code == 200
    refused = other_client.put(
        f"/v2/{NAME}/manifests/v2",
        content=manifest.content,
        headers={"Content-Type": manifest.headers["Content-Type"]},
    )
    assert refused.status_code == 403
    with pytest.raises(ClientError) as exc:
        other_ecr.describe_images(registryId=HOME, repositoryName=NAME)
    assert error(exc)[0] == "AccessDeniedException"
    # Its own registry is unaffected, and the first account's other repositories stay closed.
    other_ecr.create_repository(repositoryName="mine")
    with pytest.raises(ClientError) as exc:
        other_ecr.describe_repositories(registryId=HOME, repositoryNames=["shared/app"])
    assert error(exc)[0] == "AccessDeniedException"


def test_registry_policy_scope(registry: RunningRegistry, other: tuple[Any, httpx.Client]) -> None:
    other_ecr, _ = other
    registry.ecr.create_repository(repositoryName=NAME)
    push_image(registry.client, NAME, "v1")
    grant = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": OTHER},
            "Action": ["ecr:BatchGetImage", "ecr:CreateRepository"],
            "Resource": f"arn:aws:ecr:us-east-1:{HOME}:repository/*",
        }
    )
    registry.ecr.put_registry_policy(policyText=grant)
    # V2 (the default): the registry policy governs every ECR action.
    other_ecr.batch_get_image(registryId=HOME, repositoryName=NAME, imageIds=[{"imageTag": "v1"}])
    registry.ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    # V1: only replication, pull-through and CreateRepository.
    with pytest.raises(ClientError) as exc:
        other_ecr.batch_get_image(
            registryId=HOME, repositoryName=NAME, imageIds=[{"imageTag": "v1"}]
        )
    assert error(exc)[0] == "AccessDeniedException"


def test_resource_tag_conditions(registry: RunningRegistry) -> None:
    """ABAC: a user may describe the images of repositories tagged with its team only."""
    iam = iam_client(registry.url)
    iam.create_user(UserName="dev")
    iam.put_user_policy(
        UserName="dev",
        PolicyName="team",
        PolicyDocument=document(
            {
                "Effect": "Allow",
                "Action": "ecr:DescribeImages",
                "Resource": "*",
                "Condition": {"StringEquals": {"ecr:ResourceTag/team": "alpha"}},
            }
        ),
    )
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = ecr_client(registry.url, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    registry.ecr.create_repository(
        repositoryName="alpha/app", tags=[{"Key": "team", "Value": "alpha"}]
    )
    registry.ecr.create_repository(
        repositoryName="beta/app", tags=[{"Key": "team", "Value": "beta"}]
    )
    assert dev.describe_images(repositoryName="alpha/app")["imageDetails"] == []
    with pytest.raises(ClientError) as exc:
        dev.describe_images(repositoryName="beta/app")
    assert error(exc)[0] == "AccessDeniedException"
    registry.ecr.tag_resource(
        resourceArn=f"arn:aws:ecr:us-east-1:{HOME}:repository/beta/app",
        tags=[{"Key": "team", "Value": "alpha"}],
    )
    assert dev.describe_images(repositoryName="beta/app")["imageDetails"] == []
