"""Whole botocore clients against the wire layer, with no network: a `before-send` hook
hands each signed request to `parse_request` and answers with what a fake handler returns,
so requests, responses and errors pass through botocore's full client pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from berth.api.query.wire import CONTENT_TYPE, REQUEST_ID, QueryError, QueryModel
from tests.unit.api.query.conftest import IAM, STS

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


class FakeService:
    def __init__(self, model: QueryModel) -> None:
        self.model = model
        self.handler: Handler = lambda operation, params: {}
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else body or ""
        request_id = f"req-{len(self.seen)}"
        try:
            operation, params = self.model.parse_request(parse_qsl(text, keep_blank_values=True))
            self.seen.append((operation, params))
            status, payload = (
                200,
                self.model.serialize_response(
                    operation, self.handler(operation, params), request_id
                ),
            )
        except QueryError as error:
            self.seen.append(("error", {}))
            status, payload = error.status, self.model.error_body(error, request_id)
        headers = {"Content-Type": CONTENT_TYPE, REQUEST_ID: request_id}
        return AWSResponse(request.url, status, headers, _Body(payload))


def client(model: QueryModel, *, validate: bool = True) -> tuple[Any, FakeService]:
    fake = FakeService(model)
    made = botocore.session.get_session().create_client(
        model.service_name,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
        ),
    )
    made.meta.events.register("before-send", fake)
    return made, fake


@pytest.fixture(scope="module")
def iam() -> tuple[Any, FakeService]:
    return client(IAM)


def test_create_and_list_users(iam: tuple[Any, FakeService]) -> None:
    made, fake = iam
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    users = [
        {
            "Path": "/",
            "UserName": f"u{i}",
            "UserId": f"AID{i}",
            "Arn": f"arn:{i}",
            "CreateDate": when,
        }
        for i in range(3)
    ]

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "CreateUser":
            return {"User": {**users[0], "UserName": params["UserName"], "Tags": params["Tags"]}}
        assert operation == "ListUsers"
        return {"Users": users, "IsTruncated": True, "Marker": "page 2"}

    fake.handler = handler
    tags = [{"Key": "team", "Value": "platform"}]
    created = made.create_user(UserName="bob", Tags=tags)
    assert created["User"]["UserName"] == "bob"
    assert created["User"]["Tags"] == tags
    assert created["ResponseMetadata"]["RequestId"] == "req-0"
    listed = made.list_users(PathPrefix="/", MaxItems=3)
    assert listed["Users"] == users
    assert (listed["IsTruncated"], listed["Marker"]) == (True, "page 2")
    assert fake.seen[-1] == ("ListUsers", {"PathPrefix": "/", "MaxItems": 3})


def test_operation_without_output(iam: tuple[Any, FakeService]) -> None:
    made, fake = iam
    fake.handler = lambda operation, params: {}
    response = made.add_user_to_group(GroupName="admins", UserName="bob")
    assert set(response) == {"ResponseMetadata"}
    assert fake.seen[-1] == ("AddUserToGroup", {"GroupName": "admins", "UserName": "bob"})


@pytest.mark.parametrize(
    ("code", "exception", "status"),
    [
        ("NoSuchEntity", "NoSuchEntityException", 404),
        ("EntityAlreadyExists", "EntityAlreadyExistsException", 409),
        ("MalformedPolicyDocument", "MalformedPolicyDocumentException", 400),
        ("ServiceFailure", "ServiceFailureException", 500),
    ],
)
def test_modelled_errors_raise_their_exception_class(
    iam: tuple[Any, FakeService], code: str, exception: str, status: int
) -> None:
    made, fake = iam

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise IAM.error(code, f"{code} for {params['UserName']} & <co>")

    fake.handler = handler
    with pytest.raises(getattr(made.exceptions, exception)) as caught:
        made.put_user_policy(UserName="bob", PolicyName="p", PolicyDocument="{}")
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == f"{code} for bob & <co>"
    assert error["Error"]["Type"] == ("Sender" if status < 500 else "Receiver")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status


def test_server_side_validation_reaches_the_client() -> None:
    made, _ = client(IAM, validate=False)
    with pytest.raises(ClientError) as caught:
        made.create_user(UserName="bob smith")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith(
        "1 validation error detected: Value 'bob smith' at 'userName' failed to satisfy"
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sts_assume_role_and_caller_identity() -> None:
    made, fake = client(STS)
    expiration = datetime(2024, 1, 2, 3, 4, 5, 359000, tzinfo=UTC)

    def handler(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "GetCallerIdentity":
            return {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::1:user/b"}
        return {
            "Credentials": {
                "AccessKeyId": "ASIA",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": "AROA:s1", "Arn": params["RoleArn"]},
            "PackedPolicySize": len(params.get("Tags", [])),
        }

    fake.handler = handler
    assert made.get_caller_identity()["Account"] == "123456789012"
    params = {
        "RoleArn": "arn:aws:iam::123456789012:role/deploy",
        "RoleSessionName": "s1",
        "DurationSeconds": 3600,
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
        "TransitiveTagKeys": ["a"],
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    }
    assumed = made.assume_role(**params)
    assert fake.seen[-1] == ("AssumeRole", params)
    assert assumed["Credentials"]["Expiration"] == expiration
    assert assumed["PackedPolicySize"] == 2
