"""SigV4 on the live ECR endpoint: old, replayed, mis-scoped and tampered requests fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ROOT_KEY_ID, ROOT_SECRET, RunningRegistry, ecr_client

TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"


def signed(
    url: str,
    *,
    region: str = "us-east-1",
    service: str = "ecr",
    at: datetime | None = None,
    body: bytes = b"{}",
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=f"{url}/",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
    )
    signer = SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), service, region)
    moment = (at or datetime.now(UTC)).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        signer.add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> httpx.Response:
    return httpx.post(
        request.url,
        content=request.body if body is None else body,
        headers=dict(request.headers.items()),
    )


def test_a_botocore_signed_request_is_accepted_and_may_be_repeated_in_its_window(
    registry: RunningRegistry,
) -> None:
    request = signed(registry.url)
    assert send(request).status_code == 200
    # AWS accepts an identical request again within the 15-minute window, as Berth does.
    assert send(request).status_code == 200


def test_a_replayed_old_request_is_rejected(registry: RunningRegistry) -> None:
    old = signed(registry.url, at=datetime.now(UTC) - timedelta(minutes=20))
    response = send(old)
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidSignatureException"
    assert response.json()["message"].startswith("Signature expired: ")


def test_wrong_scope_is_rejected(registry: RunningRegistry) -> None:
    for request in (
        signed(registry.url, service="s3"),
        signed(registry.url, region="nowhere"),
    ):
        response = send(request)
        assert response.status_code == 400
        assert response.json()["__type"] == "InvalidSignatureException"
        assert "Credential should be scoped" in response.json()["message"]


def test_tampered_body_is_rejected(registry: RunningRegistry) -> None:
    request = signed(registry.url)
    response = send(request, body=b'{"maxResults": 1}')
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidSignatureException"


def test_unsigned_request_is_rejected(registry: RunningRegistry) -> None:
    response = httpx.post(
        f"{registry.url}/",
        content=b"{}",
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_region_of_the_signature_is_the_region_served(registry: RunningRegistry) -> None:
    ecr_client(registry.url, "eu-west-1").create_repository(repositoryName="eu-only")
    with pytest.raises(ClientError):
        registry.ecr.describe_repositories(repositoryNames=["eu-only"])


def test_unknown_targets_get_aws_errors(registry: RunningRegistry) -> None:
    for target in ("AmazonEC2ContainerRegistry_V20150921.NoSuchThing", "Other.Thing", None):
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if target:
            headers["X-Amz-Target"] = target
        response = httpx.post(f"{registry.url}/", content=b"{}", headers=headers)
        assert response.status_code == 400
        assert response.json()["__type"] == "UnknownOperationException"
        assert response.headers["x-amzn-RequestId"]
