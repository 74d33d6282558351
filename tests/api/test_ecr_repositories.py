"""ECR repository operations through boto3 against a live Berth."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, RunningRegistry, ecr_client

ACCOUNT = "000000000000"


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_create_repository_as_the_guide_does(registry: RunningRegistry) -> None:
    created = registry.ecr.create_repository(
        repositoryName="my-application",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS"},
        tags=[{"Key": "team", "Value": "platform"}],
    )["repository"]
    host = registry.url.removeprefix("http://")
    assert created["repositoryName"] == "my-application"
    assert created["registryId"] == ACCOUNT
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/my-application"
    assert created["repositoryUri"] == f"{host}/my-application"
    assert created["imageTagMutability"] == "MUTABLE"
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "KMS"}
    assert created["createdAt"].tzinfo is not None
    listed = registry.ecr.describe_repositories(repositoryNames=["my-application"])
    assert listed["repositories"] == [created]
    tags = registry.ecr.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "platform"}]


def test_create_twice_is_repository_already_exists(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName="dup")
    with pytest.raises(ClientError) as exc:
        registry.ecr.create_repository(repositoryName="dup")
    code, message, status = error(exc)
    assert (code, status) == ("RepositoryAlreadyExistsException", 400)
    assert message == (
        f"The repository with name 'dup' already exists in the registry with id '{ACCOUNT}'"
    )


def test_invalid_name_is_invalid_parameter(registry: RunningRegistry) -> None:
    with pytest.raises(ClientError) as exc:
        registry.ecr.create_repository(repositoryName="Bad_Name")
    code, message, _ = error(exc)
    assert code == "InvalidParameterException"
    assert "repositoryName" in message


def test_repositories_are_per_region(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName="regional")
    seoul = ecr_client(registry.url, "ap-northeast-2")
    assert seoul.describe_repositories()["repositories"] == []
    seoul.create_repository(repositoryName="regional")
    arns = [r["repositoryArn"] for r in seoul.describe_repositories()["repositories"]]
    assert arns == [f"arn:aws:ecr:ap-northeast-2:{ACCOUNT}:repository/regional"]


def test_describe_repositories_paginates(registry: RunningRegistry) -> None:
    names = [f"page/repo-{i:02d}" for i in range(7)]
    for name in names:
        registry.ecr.create_repository(repositoryName=name)
    paginator = registry.ecr.get_paginator("describe_repositories")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["repositories"]) for p in pages] == [3, 3, 1]
    assert [r["repositoryName"] for p in pages for r in p["repositories"]] == names


def test_describe_missing_repository(registry: RunningRegistry) -> None:
    with pytest.raises(ClientError) as exc:
        registry.ecr.describe_repositories(repositoryNames=["nope"])
    code, message, status = error(exc)
    assert (code, status) == ("RepositoryNotFoundException", 400)
    assert message == (
        f"The repository with name 'nope' does not exist in the registry with id '{ACCOUNT}'"
    )


def test_delete_repository_needs_force_when_not_empty(registry: RunningRegistry) -> None:
    from tests.api.helpers import push_image

    registry.ecr.create_repository(repositoryName="full")
    push_image(registry.client, "full", "v1")
    with pytest.raises(ClientError) as exc:
        registry.ecr.delete_repository(repositoryName="full")
    assert error(exc)[0] == "RepositoryNotEmptyException"
    deleted = registry.ecr.delete_repository(repositoryName="full", force=True)
    assert deleted["repository"]["repositoryName"] == "full"
    assert registry.client.get("/v2/full/tags/list").status_code == 404
    with pytest.raises(ClientError) as exc:
        registry.ecr.delete_repository(repositoryName="full")
    assert error(exc)[0] == "RepositoryNotFoundException"


def test_tag_mutability_modes(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName="mut")
    response = registry.ecr.put_image_tag_mutability(
        repositoryName="mut",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    assert response["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    repo = registry.ecr.describe_repositories(repositoryNames=["mut"])["repositories"][0]
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"}
    ]
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image_tag_mutability(
            repositoryName="mut", imageTagMutability="IMMUTABLE_WITH_EXCLUSION"
        )
    assert error(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image_tag_mutability(repositoryName="mut", imageTagMutability="SOMETIMES")
    assert error(exc)[0] == "InvalidParameterException"


def test_scanning_configuration(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName="scan")
    response = registry.ecr.put_image_scanning_configuration(
        repositoryName="scan", imageScanningConfiguration={"scanOnPush": True}
    )
    assert response["imageScanningConfiguration"] == {"scanOnPush": True}
    repo = registry.ecr.describe_repositories(repositoryNames=["scan"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}


def test_resource_tags(registry: RunningRegistry) -> None:
    arn = registry.ecr.create_repository(repositoryName="tagged")["repository"]["repositoryArn"]
    registry.ecr.tag_resource(
        resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    registry.ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "3"}])
    registry.ecr.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert registry.ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "a", "Value": "3"}
    ]
    with pytest.raises(ClientError) as exc:
        registry.ecr.tag_resource(
            resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        )
    assert error(exc)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.list_tags_for_resource(resourceArn="arn:aws:ecr:eu-west-1:1:repository/x")
    assert error(exc)[0] == "InvalidParameterException"


def test_registry_and_account_settings(registry: RunningRegistry) -> None:
    assert registry.ecr.describe_registry()["registryId"] == ACCOUNT
    setting = registry.ecr.get_account_setting(name="BLOB_MOUNTING")
    assert setting == {
        "name": "BLOB_MOUNTING",
        "value": "ENABLED",
        "ResponseMetadata": setting["ResponseMetadata"],
    }
    registry.ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    assert registry.ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_account_setting(name="BLOB_MOUNTING", value="MAYBE")
    assert error(exc)[0] == "InvalidParameterException"


def test_wrong_secret_is_rejected(registry: RunningRegistry) -> None:
    client = ecr_client(registry.url, secret="not-the-secret")
    with pytest.raises(ClientError) as exc:
        client.describe_repositories()
    code, message, status = error(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "signature" in message.lower()


def test_unknown_access_key_is_rejected(registry: RunningRegistry) -> None:
    client = ecr_client(registry.url, key_id="AKIAUNKNOWN000000000")
    with pytest.raises(ClientError) as exc:
        client.describe_repositories()
    assert error(exc) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


def test_every_response_has_a_request_id(registry: RunningRegistry) -> None:
    response = registry.ecr.describe_repositories()
    assert response["ResponseMetadata"]["RequestId"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
