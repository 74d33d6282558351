"""EcrApi driven by botocore's own client: what boto3 and the AWS CLI will see."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from botocore.exceptions import ClientError

from berth import errors
from berth.api.ecr.dispatch import Call, EcrApi
from berth.api.ecr.errors import EcrError
from berth.api.ecr.model import ECR
from tests.unit.api.ecr.conftest import Server

operation_names = ECR.operation_names

CREATED = datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)


def test_a_handler_result_reaches_botocore_parsed(server: Server, ecr: Any) -> None:
    seen: list[tuple[Call, dict[str, Any]]] = []

    async def create_repository(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        seen.append((call, params))
        return {
            "repository": {
                "repositoryName": params["repositoryName"],
                "registryId": None,  # unset members are left out
                "createdAt": CREATED,
                "imageTagMutability": "MUTABLE",
                "imageScanningConfiguration": {"scanOnPush": False},
            }
        }

    auth = server.use({"CreateRepository": create_repository})
    response = ecr.create_repository(
        repositoryName="team/app", imageScanningConfiguration={"scanOnPush": True}
    )

    repository = response["repository"]
    assert repository["createdAt"] == CREATED
    assert repository["imageScanningConfiguration"] == {"scanOnPush": False}
    assert "registryId" not in repository
    call, params = seen[0]
    assert params == {
        "repositoryName": "team/app",
        "imageScanningConfiguration": {"scanOnPush": True},
    }
    assert call.operation == "CreateRepository"
    assert call.caller == "caller-1"
    assert call.region == "us-east-1"
    assert call.source_ip == "127.0.0.1"
    assert call.user_agent is not None and "Botocore" in call.user_agent
    assert call.request_id == response["ResponseMetadata"]["RequestId"]
    assert json.loads(auth.bodies[0]) == {
        "repositoryName": "team/app",
        "imageScanningConfiguration": {"scanOnPush": True},
    }


def test_blobs_arrive_as_bytes_and_timestamps_leave_as_epoch(server: Server, ecr: Any) -> None:
    received: dict[str, Any] = {}
    expires = CREATED + timedelta(hours=12)

    async def upload_layer_part(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        received.update(params)
        return {
            "registryId": "123456789012",
            "repositoryName": params["repositoryName"],
            "uploadId": params["uploadId"],
            "lastByteReceived": params["partLastByte"],
        }

    async def get_authorization_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        token = {"authorizationToken": b"AWS:secret", "expiresAt": expires.replace(tzinfo=None)}
        return {"authorizationData": [{**token, "proxyEndpoint": "https://example"}]}

    server.use(
        {"UploadLayerPart": upload_layer_part, "GetAuthorizationToken": get_authorization_token}
    )
    part = bytes(range(256)) * 4
    upload_id = "0f0e0d0c-0b0a-0908-0706-050403020100"
    response = ecr.upload_layer_part(
        repositoryName="app",
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=len(part) - 1,
        layerPartBlob=part,
    )
    assert received["layerPartBlob"] == part
    assert response["lastByteReceived"] == len(part) - 1

    data = ecr.get_authorization_token()["authorizationData"][0]
    assert data["expiresAt"] == expires  # a naive datetime is UTC
    assert data["authorizationToken"] == "QVdTOnNlY3JldA=="  # bytes are base64 on the wire


def test_an_ecr_error_surfaces_as_client_error(server: Server, ecr: Any) -> None:
    async def describe_repositories(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        raise EcrError(
            "RepositoryNotFoundException",
            "The repository with name 'nope' does not exist in the registry with id '123456789012'",
        )

    server.use({"DescribeRepositories": describe_repositories})
    with pytest.raises(ClientError) as caught:
        ecr.describe_repositories(repositoryNames=["nope"])

    response = caught.value.response
    assert response["Error"]["Code"] == "RepositoryNotFoundException"
    assert response["Error"]["Message"].startswith("The repository with name 'nope'")
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 400
    assert metadata["RequestId"] == metadata["HTTPHeaders"]["x-amzn-requestid"]
    assert metadata["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert isinstance(caught.value, ecr.exceptions.RepositoryNotFoundException)


def test_extra_error_fields_reach_botocore(server: Server, ecr: Any) -> None:
    async def upload_layer_part(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        raise errors.UploadRangeInvalid("part does not start where the upload ends", offset=10)

    server.use({"UploadLayerPart": upload_layer_part})
    with pytest.raises(ecr.exceptions.InvalidLayerPartException) as caught:
        ecr.upload_layer_part(
            repositoryName="app",
            uploadId="0f0e0d0c-0b0a-0908-0706-050403020100",
            partFirstByte=20,
            partLastByte=29,
            layerPartBlob=b"0123456789",
        )
    assert caught.value.response["lastValidByteReceived"] == 9
    assert caught.value.response["Error"]["Message"] == "part does not start where the upload ends"


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("PutImage", "ImageDigestDoesNotMatchException"),
        ("CompleteLayerUpload", "InvalidLayerException"),
    ],
)
def test_domain_errors_map_per_operation(
    server: Server, ecr: Any, operation: str, expected: str
) -> None:
    async def fail(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        raise errors.DigestMismatch("digest does not match")

    server.use({operation: fail})
    with pytest.raises(ClientError) as caught:
        if operation == "PutImage":
            ecr.put_image(repositoryName="app", imageManifest="{}")
        else:
            ecr.complete_layer_upload(
                repositoryName="app",
                uploadId="0f0e0d0c-0b0a-0908-0706-050403020100",
                layerDigests=["sha256:" + "a" * 64],
            )
    assert caught.value.response["Error"]["Code"] == expected


def test_an_unexpected_exception_is_a_500_without_details(
    server: Server, ecr: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def list_images(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    server.use({"ListImages": list_images})
    with caplog.at_level(logging.ERROR), pytest.raises(ClientError) as caught:
        ecr.list_images(repositoryName="app")

    response = caught.value.response
    assert response["Error"] == {"Code": "ServerException", "Message": "An internal error occurred"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "secret internals" not in json.dumps(response, default=str)
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_an_unserializable_result_is_a_500(server: Server, ecr: Any) -> None:
    async def list_images(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return {"imageIds": [object()]}

    server.use({"ListImages": list_images})
    with pytest.raises(ClientError) as caught:
        ecr.list_images(repositoryName="app")
    assert caught.value.response["Error"]["Code"] == "ServerException"


@pytest.mark.parametrize(
    ("code", "status"),
    [("UnrecognizedClientException", 400), ("InvalidSignatureException", 400)],
)
def test_authentication_errors_are_rendered(
    server: Server, ecr: Any, code: str, status: int
) -> None:
    called: list[str] = []

    async def list_images(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        called.append(call.operation)
        return {}

    auth = server.use({"ListImages": list_images})
    auth.error = EcrError(
        code, "The security token included in the request is invalid.", status=status
    )
    with pytest.raises(ClientError) as caught:
        ecr.list_images(repositoryName="app")
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert called == []


def test_authentication_comes_before_parsing(server: Server) -> None:
    auth = server.use({})
    auth.error = EcrError(
        "MissingAuthenticationTokenException", "Missing Authentication Token", status=400
    )
    response = server.raw("ListImages", b"{not json")
    assert response.status_code == 400
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("operation", operation_names())
def test_every_unimplemented_operation_says_so(server: Server, operation: str) -> None:
    server.use({})
    response = server.raw(operation, b"{}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.json() == {
        "__type": "ValidationException",
        "message": f"Berth does not implement {operation} yet",
    }
    assert response.headers["x-amzn-requestid"]


def test_an_unimplemented_operation_via_botocore(server: Server, ecr: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ecr.describe_registry()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert (
        caught.value.response["Error"]["Message"] == "Berth does not implement DescribeRegistry yet"
    )


def test_an_unknown_operation(server: Server) -> None:
    response = server.raw("DescribeUnicorns", b"{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"


def test_requests_for_other_services_are_not_accepted(server: Server) -> None:
    response = server.http.post("/", content=b"{}", headers={"X-Amz-Target": "Other_20200101.Op"})
    assert response.status_code == 404
    assert server.http.post("/", content=b"{}").status_code == 404
    assert server.http.get("/").status_code == 404


def test_an_empty_body_is_an_empty_object(server: Server) -> None:
    async def describe_registry(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        assert params == {}
        return {"registryId": "123456789012", "replicationConfiguration": {"rules": []}}

    server.use({"DescribeRegistry": describe_registry})
    response = server.raw("DescribeRegistry", b"")
    assert response.status_code == 200, response.text
    assert response.json()["registryId"] == "123456789012"


def test_the_body_is_bounded(server: Server) -> None:
    async def put_image(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("not reached")

    server.use({"PutImage": put_image}, max_body=1024)
    body = json.dumps({"repositoryName": "app", "imageManifest": "x" * 2000})
    response = server.raw("PutImage", body)
    assert response.status_code == 413
    assert response.json()["__type"] == "SerializationException"

    def chunks() -> Any:  # no Content-Length: the limit holds while reading
        yield body.encode()

    response = server.http.post(
        "/",
        content=chunks(),
        headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage"},
    )
    assert response.status_code == 413


def test_accepts_needs_post_slash_and_the_ecr_prefix() -> None:
    target = {"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.ListImages"}
    api = EcrApi({}, authenticate=lambda request, body: None)  # type: ignore[arg-type,return-value]
    assert api.accepts(make_mocked_request("POST", "/", headers=target))
    assert not api.accepts(make_mocked_request("GET", "/", headers=target))
    assert not api.accepts(make_mocked_request("POST", "/v2/", headers=target))
    assert not api.accepts(make_mocked_request("POST", "/"))
