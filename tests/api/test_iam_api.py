"""The IAM API through boto3 and the aws CLI.

The shared tests run twice: over HTTP against the real server (`registry`), and through the
Query wire layer alone (a botocore `before-send` hook hands each request to `QueryModel` and
the handler table, on a real database), where authorization can be watched and refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, quote

import botocore.config
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError

from berth import errors
from berth.api.iam.errors import TABLE, to_query_error
from berth.api.iam.operations import IamOperations
from berth.api.query.wire import CONTENT_TYPE, REQUEST_ID, QueryError, QueryModel
from berth.services.auth import AuthService
from berth.services.iam import IamService
from berth.storage.metadata import migrate
from berth.storage.metadata.iam import SqlIamStore
from berth.storage.metadata.store import SqlMetadataStore
from tests.conftest import (
    REGION,
    ROOT_KEY_ID,
    ROOT_SECRET,
    RunningRegistry,
    ecr_client,
    iam_client,
)

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
AWS = str(Path(sys.executable).with_name("aws"))
MODEL = QueryModel("iam")
# Characters a percent-encoding must get right: Latin-1, '&<>', '+', '%', '/', quotes, space.
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Cafe",
            "Effect": "Allow",
            "Action": ["ecr:Describe*", "ecr:List*"],
            "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/a+b%20c/&<d>",
            "Condition": {"StringLike": {"aws:UserAgent": "caf\u00e9 \"hi\" 'there'"}},
        }
    ],
}
ECR_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}],
}


# the Query harness: botocore's whole client pipeline, no network


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@dataclass
class Harness:
    """Answers botocore's requests with the IAM handlers; `deny` names actions to refuse."""

    loop: asyncio.AbstractEventLoop
    operations: IamOperations
    asked: list[tuple[str, str]] = field(default_factory=list)
    deny: set[str] = field(default_factory=set)
    caller: Any = field(
        default_factory=lambda: SimpleNamespace(account_id=ACCOUNT, principal_arn=ROOT)
    )

    async def authorize(self, caller: Any, action: str, resource: str) -> None:
        assert caller is self.caller
        self.asked.append((action, resource))
        if action in self.deny:
            raise errors.AccessDenied(f"not allowed to {action} on {resource}")

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else body or ""
        request_id = f"req-{len(self.asked)}"
        handlers = self.operations.table()
        try:
            operation, params = MODEL.parse_request(parse_qsl(text, keep_blank_values=True))
            call = SimpleNamespace(caller=self.caller, request_id=request_id)
            try:
                result = self.loop.run_until_complete(handlers[operation](call, params))
            except errors.BerthError as error:
                raise to_query_error(error) from None
            status, payload = 200, MODEL.serialize_response(operation, result, request_id)
        except QueryError as error:
            status, payload = error.status, MODEL.error_body(error, request_id)
        headers = {"Content-Type": CONTENT_TYPE, REQUEST_ID: request_id}
        return AWSResponse(request.url, status, headers, _Body(payload))


@pytest.fixture
def harness(database_url: str) -> Iterator[tuple[Any, Harness]]:
    migrate.upgrade(database_url)
    metadata = SqlMetadataStore(database_url)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(metadata.ensure_account(ACCOUNT))
    auth = AuthService(metadata, b"k" * 32)
    service = IamService(SqlIamStore(metadata), auth.seal_secret, keys_changed=auth.invalidate_keys)
    harness = Harness(loop, None)  # type: ignore[arg-type]
    harness.operations = IamOperations(service, harness.authorize)
    client = botocore.session.get_session().create_client(
        "iam",
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    client.meta.events.register("before-send", harness)
    try:
        yield client, harness
    finally:
        loop.run_until_complete(metadata.close())
        loop.close()


@pytest.fixture(params=["http", "query"])
def iam(request: pytest.FixtureRequest) -> Any:
    """A boto3 IAM client as the account root: over HTTP, or through the Query layer alone."""
    if request.param == "http":
        registry: RunningRegistry = request.getfixturevalue("registry")
        return iam_client(registry.url)
    client, _ = request.getfixturevalue("harness")
    return client


def code_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# through both


def test_users(iam: Any) -> None:
    created = iam.create_user(UserName="bob", Path="/team/", Tags=[{"Key": "k", "Value": "v"}])
    user = created["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/bob"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 20
    assert user["Tags"] == [{"Key": "k", "Value": "v"}]
    assert iam.get_user(UserName="BOB")["User"] == user
    # Without a name: the caller, here the account root, which is no IAM user.
    root = iam.get_user()["User"]
    assert (root["UserId"], root["Arn"]) == (ACCOUNT, ROOT)
    assert "UserName" not in root and "Path" not in root

    for name in ("carol", "alice", "dave", "erin"):
        iam.create_user(UserName=name)
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
    assert [[u["UserName"] for u in page["Users"]] for page in pages] == [
        ["alice", "bob"],
        ["carol", "dave"],
        ["erin"],
    ]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]] == ["bob"]
    iam.delete_user(UserName="erin")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.get_user(UserName="erin")
    assert code_of(caught) == ("NoSuchEntity", "The user with name erin cannot be found.", 404)


def test_access_keys(iam: Any) -> None:
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    assert key["UserName"] == "bob" and key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40
    second = iam.create_access_key(UserName="bob")["AccessKey"]
    with pytest.raises(iam.exceptions.LimitExceededException) as caught:
        iam.create_access_key(UserName="bob")
    assert code_of(caught) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)

    iam.update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    listed = iam.list_access_keys(UserName="bob")
    assert {(k["AccessKeyId"], k["Status"]) for k in listed["AccessKeyMetadata"]} == {
        (key["AccessKeyId"], "Inactive"),
        (second["AccessKeyId"], "Active"),
    }
    assert all("SecretAccessKey" not in k for k in listed["AccessKeyMetadata"])
    iam.delete_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.delete_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"])
    assert code_of(caught)[1] == f"The Access Key with id {key['AccessKeyId']} cannot be found."
    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_user(UserName="bob")
    assert code_of(caught) == (
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
        409,
    )
    iam.delete_access_key(UserName="bob", AccessKeyId=second["AccessKeyId"])
    iam.delete_user(UserName="bob")


def test_policy_documents_go_out_encoded_and_come_back_as_json(iam: Any) -> None:
    raw: dict[str, Any] = {}

    def keep(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        # More specific handlers run first: this one sees the document before boto3 decodes it.
        raw[model.name] = http_response.content

    iam.meta.events.register("after-call.iam.GetUserPolicy", keep)
    text = json.dumps(POLICY, indent=2, ensure_ascii=False)
    iam.create_user(UserName="bob")
    iam.put_user_policy(UserName="bob", PolicyName="ecr", PolicyDocument=text)
    got = iam.get_user_policy(UserName="bob", PolicyName="ecr")
    assert got["PolicyDocument"] == POLICY
    assert (got["UserName"], got["PolicyName"]) == ("bob", "ecr")
    assert (
        f"<PolicyDocument>{quote(text, safe='')}</PolicyDocument>".encode() in raw["GetUserPolicy"]
    )

    role = iam.create_role(
        RoleName="deploy",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="CI pushes",
        MaxSessionDuration=7200,
    )["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    fetched = iam.get_role(RoleName="deploy")["Role"]
    assert fetched["AssumeRolePolicyDocument"] == TRUST
    assert (fetched["Description"], fetched["MaxSessionDuration"]) == ("CI pushes", 7200)
    assert fetched["RoleId"].startswith("AROA")
    assert iam.list_roles()["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    iam.put_role_policy(RoleName="deploy", PolicyName="p", PolicyDocument=text)
    assert iam.get_role_policy(RoleName="deploy", PolicyName="p")["PolicyDocument"] == POLICY

    arn = iam.create_policy(PolicyName="read", PolicyDocument=text)["Policy"]["Arn"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert (version["Document"], version["IsDefaultVersion"]) == (POLICY, True)


def test_errors(iam: Any) -> None:
    iam.create_user(UserName="bob")
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as caught:
        iam.create_user(UserName="Bob")
    assert code_of(caught) == ("EntityAlreadyExists", "User with name Bob already exists.", 409)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as caught:
        iam.put_user_policy(UserName="bob", PolicyName="p", PolicyDocument='{"Statement": 1}')
    assert code_of(caught) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
    with pytest.raises(ClientError) as caught:
        iam.list_users(Marker="not a marker")
    assert code_of(caught) == ("ValidationError", "Invalid Marker.", 400)
    aws_managed = "arn:aws:iam::aws:policy/AdministratorAccess"
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.attach_user_policy(UserName="bob", PolicyArn=aws_managed)
    assert code_of(caught)[1] == f"Policy {aws_managed} does not exist or is not attachable."
    with pytest.raises(iam.exceptions.InvalidInputException) as caught:
        iam.get_policy(PolicyArn="arn:aws:s3:::some-bucket")
    assert code_of(caught)[0] == "InvalidInput"
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(ECR_ALL))
    assert code_of(caught)[0] == "MalformedPolicyDocument"


def test_groups_roles_and_managed_policies(iam: Any) -> None:
    iam.create_user(UserName="bob")
    group = iam.create_group(GroupName="devs", Path="/eng/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/devs"
    iam.add_user_to_group(GroupName="devs", UserName="bob")
    got = iam.get_group(GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["bob"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="bob")["Groups"]] == ["devs"]

    policy = iam.create_policy(
        PolicyName="EcrAll", Path="/ecr/", PolicyDocument=json.dumps(ECR_ALL), Description="all"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/ecr/EcrAll"
    assert (policy["DefaultVersionId"], policy["IsAttachable"]) == ("v1", True)
    iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
    iam.put_group_policy(GroupName="devs", PolicyName="inline", PolicyDocument=json.dumps(ECR_ALL))
    iam.attach_user_policy(UserName="bob", PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName="bob")["AttachedPolicies"] == [
        {"PolicyName": "EcrAll", "PolicyArn": arn}
    ]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2

    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="deploy", PolicyArn=arn)
    iam.put_role_policy(RoleName="deploy", PolicyName="p", PolicyDocument=json.dumps(ECR_ALL))
    assert iam.list_role_policies(RoleName="deploy")["PolicyNames"] == ["p"]
    assert [
        p["PolicyArn"]
        for p in iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"]
    ] == [arn]
    other = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Sid": "Again"}]}
    iam.update_assume_role_policy(RoleName="deploy", PolicyDocument=json.dumps(other))
    assert iam.get_role(RoleName="deploy")["Role"]["AssumeRolePolicyDocument"] == other

    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(caught)[1] == "Cannot delete a policy attached to entities."
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName="deploy")

    # Everything taken apart again, in the order IAM requires.
    iam.detach_role_policy(RoleName="deploy", PolicyArn=arn)
    iam.delete_role_policy(RoleName="deploy", PolicyName="p")
    iam.delete_role(RoleName="deploy")
    iam.detach_user_policy(UserName="bob", PolicyArn=arn)
    iam.remove_user_from_group(GroupName="devs", UserName="bob")
    iam.detach_group_policy(GroupName="devs", PolicyArn=arn)
    assert iam.list_attached_group_policies(GroupName="devs")["AttachedPolicies"] == []
    assert iam.list_group_policies(GroupName="devs")["PolicyNames"] == ["inline"]
    assert iam.get_group_policy(GroupName="devs", PolicyName="inline")["PolicyDocument"] == ECR_ALL
    iam.delete_group_policy(GroupName="devs", PolicyName="inline")
    iam.delete_group(GroupName="devs")
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName="bob")
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == []
    assert iam.list_groups()["Groups"] == []


# the Query layer alone: authorization and the error table


def test_every_operation_is_authorized_first(harness: tuple[Any, Harness]) -> None:
    client, watch = harness
    client.create_user(UserName="bob", Path="/team/")
    client.get_user(UserName="BOB")
    client.get_user()
    client.list_users()
    client.create_policy(PolicyName="p", PolicyDocument=json.dumps(ECR_ALL))
    policy = f"arn:aws:iam::{ACCOUNT}:policy/p"
    client.attach_user_policy(UserName="bob", PolicyArn=policy)
    client.get_policy(PolicyArn=policy)
    client.create_access_key()
    with pytest.raises(ClientError):
        client.get_group(GroupName="nope")
    user = f"arn:aws:iam::{ACCOUNT}:user/team/bob"
    assert watch.asked == [
        ("iam:CreateUser", user),
        ("iam:GetUser", user),  # the user's own ARN, with its path
        ("iam:GetUser", ROOT),  # the caller itself
        ("iam:ListUsers", "*"),
        ("iam:CreatePolicy", policy),
        ("iam:AttachUserPolicy", user),
        ("iam:GetPolicy", policy),
        ("iam:CreateAccessKey", ROOT),
        ("iam:GetGroup", f"arn:aws:iam::{ACCOUNT}:group/nope"),  # asked before NoSuchEntity
    ]

    watch.deny = {"iam:CreateUser", "iam:DeleteUser"}
    for attempt in (
        lambda: client.create_user(UserName="mallory"),
        lambda: client.delete_user(UserName="bob"),
    ):
        with pytest.raises(ClientError) as caught:
            attempt()
        code, message, status = code_of(caught)
        assert (code, status) == ("AccessDenied", 403)
        assert message.startswith("not allowed to iam:")
    with pytest.raises(client.exceptions.NoSuchEntityException):
        client.get_user(UserName="mallory")
    assert client.get_user(UserName="bob")["User"]["Arn"] == user


def test_the_table_serves_the_iam_subset() -> None:
    async def allow(caller: Any, action: str, resource: str) -> None:
        pass

    table = IamOperations(None, allow).table()  # type: ignore[arg-type]
    assert set(table) <= MODEL.operation_names()
    required = {
        "CreateUser", "GetUser", "ListUsers", "DeleteUser", "CreateAccessKey", "ListAccessKeys",
        "UpdateAccessKey", "DeleteAccessKey", "PutUserPolicy", "GetUserPolicy",
        "DeleteUserPolicy", "ListUserPolicies", "CreatePolicy", "GetPolicy", "GetPolicyVersion",
        "DeletePolicy", "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies",
        "CreateGroup", "GetGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
        "ListGroupsForUser", "PutGroupPolicy", "AttachGroupPolicy", "DetachGroupPolicy",
        "CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy",
        "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
        "ListRolePolicies", "UpdateAssumeRolePolicy",
    }  # fmt: skip
    assert required <= set(table)


def test_error_table_matches_the_model() -> None:
    for exception, (code, status) in TABLE.items():
        error = to_query_error(exception("message"))
        assert (error.code, error.message, error.status) == (code, "message", status)
        if MODEL.service_model.shape_for_error_code(code) is not None:
            assert MODEL.error(code, "x").status == status, code
    unknown = to_query_error(errors.RepositoryNotFound("no"))
    assert (unknown.code, unknown.status, unknown.sender) == ("ServiceFailure", 500, False)


# over HTTP only: the aws CLI, and keys IAM hands out at work on ECR


def _aws_env(home: Path, url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }


def test_aws_cli(tmp_path: Path, registry: RunningRegistry) -> None:
    env = _aws_env(tmp_path, registry.url)

    def aws(*args: str) -> Any:
        result = subprocess.run(
            [AWS, "iam", *args], capture_output=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        out = result.stdout.decode()
        return json.loads(out) if out.strip() else None

    user = aws("create-user", "--user-name", "ci", "--path", "/automation/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/automation/ci"
    key = aws("create-access-key", "--user-name", "ci")["AccessKey"]
    assert key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(POLICY, indent=4, ensure_ascii=False), "utf-8")
    aws(
        "put-user-policy", "--user-name", "ci", "--policy-name", "ecr",
        "--policy-document", f"file://{policy_file}",
    )  # fmt: skip
    got = aws("get-user-policy", "--user-name", "ci", "--policy-name", "ecr")
    assert got["PolicyDocument"] == POLICY
    listed = aws("list-access-keys", "--user-name", "ci")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]

    failed = subprocess.run(
        [AWS, "iam", "get-user", "--user-name", "nobody"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert failed.returncode != 0
    assert b"(NoSuchEntity)" in failed.stderr
    assert b"The user with name nobody cannot be found." in failed.stderr


def test_keys_from_create_access_key_call_ecr(registry: RunningRegistry) -> None:
    root = iam_client(registry.url)
    root.create_user(UserName="ci")
    root.put_user_policy(UserName="ci", PolicyName="ecr", PolicyDocument=json.dumps(ECR_ALL))
    key = root.create_access_key(UserName="ci")["AccessKey"]
    ecr = ecr_client(registry.url, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    registry.ecr.create_repository(repositoryName="app")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["app"]

    # The key's own user, as GetUser without a name tells it.
    as_ci = iam_client(registry.url, key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        as_ci.get_user()  # ci may use ECR, not IAM
    assert code_of(caught)[0] == "AccessDenied"
    root.put_user_policy(
        UserName="ci",
        PolicyName="self",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:GetUser",
                        "Resource": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
                    },
                ],
            }
        ),
    )
    assert as_ci.get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ci"

    # A user without policies authenticates, but is denied.
    root.create_user(UserName="nobody")
    other = root.create_access_key(UserName="nobody")["AccessKey"]
    denied = ecr_client(registry.url, key_id=other["AccessKeyId"], secret=other["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        denied.describe_repositories()
    assert code_of(caught)[0] == "AccessDeniedException"

    # Deactivated or deleted, the key stops working at once.
    root.update_access_key(UserName="ci", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as caught:
        ecr.describe_repositories()
    assert code_of(caught)[0] == "UnrecognizedClientException"
    root.update_access_key(UserName="ci", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert ecr.describe_repositories()["repositories"]
    root.delete_access_key(UserName="ci", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as caught:
        ecr.describe_repositories()
    assert code_of(caught)[0] == "UnrecognizedClientException"
