"""PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy through boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RunningRegistry

NAME = "lifecycle/app"
POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep only the last 10 images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 10,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_put_get_delete(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    put = registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=POLICY)
    assert put["lifecyclePolicyText"] == POLICY
    assert put["registryId"] == "000000000000"
    got = registry.ecr.get_lifecycle_policy(repositoryName=NAME)
    assert got["lifecyclePolicyText"] == POLICY
    assert "lastEvaluatedAt" not in got  # no enforcement has run yet
    deleted = registry.ecr.delete_lifecycle_policy(repositoryName=NAME)
    assert deleted["lifecyclePolicyText"] == POLICY
    with pytest.raises(ClientError) as exc:
        registry.ecr.get_lifecycle_policy(repositoryName=NAME)
    assert error(exc) == (
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{NAME}' in the "
        "registry with id '000000000000'",
    )
    with pytest.raises(ClientError) as exc:
        registry.ecr.delete_lifecycle_policy(repositoryName=NAME)
    assert error(exc)[0] == "LifecyclePolicyNotFoundException"


def test_invalid_policy_is_refused_as_ecr_does(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    doc = json.loads(POLICY)
    doc["rules"].append({**doc["rules"][0], "rulePriority": 2})
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=json.dumps(doc))
    code, message = error(exc)
    assert code == "InvalidParameterException"
    assert message.startswith(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        "'Lifecycle policy validation failure: "
    )
    with pytest.raises(ClientError):
        registry.ecr.get_lifecycle_policy(repositoryName=NAME)


def test_policy_of_a_missing_repository(registry: RunningRegistry) -> None:
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_lifecycle_policy(repositoryName="nope", lifecyclePolicyText=POLICY)
    assert error(exc)[0] == "RepositoryNotFoundException"


def test_policy_goes_with_its_repository(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=POLICY)
    registry.ecr.delete_repository(repositoryName=NAME, force=True)
    registry.ecr.create_repository(repositoryName=NAME)
    with pytest.raises(ClientError) as exc:
        registry.ecr.get_lifecycle_policy(repositoryName=NAME)
    assert error(exc)[0] == "LifecyclePolicyNotFoundException"
