"""The authorisation matrix: principals by actions on both APIs, each outcome the one AWS's
documented evaluation logic gives. Principals are made the AWS way, with IAM and STS on Berth:
the account root, users with the guide's identity policy / nothing / only a login / an explicit
deny, a role session in the same account, another account's role session with and without the
guide's repository policy (section 4.2), another account's root, and nobody."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import httpx
import pytest
from botocore.exceptions import ClientError

from berth import cli
from tests.api.helpers import OCI_MANIFEST, image_manifest, push_blob, push_image, sha256
from tests.conftest import ROOT_KEY_ID, ROOT_SECRET, RunningRegistry

HOME, OTHER = "000000000000", "222233334444"
REPO, ELSEWHERE = "team/app", "team/other"
REPO_ARN = f"arn:aws:ecr:us-east-1:{HOME}:repository/{REPO}"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = [
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
]

# Section 4.1 of the guide, with its placeholders filled in.
GUIDE_IDENTITY_POLICY = {
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
                "ecr:CompleteLayerUpload",
            ],
            "Resource": REPO_ARN,
        }
    ],
}
# Section 4.2: another account's role may pull.
GUIDE_REPOSITORY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowPull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/service-role"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}
LOGIN_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}],
}


def statement(effect: str, action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Who:
    name: str
    credentials: dict[str, str] | None  # None: anonymous

    def client(self, url: str, service: str) -> Any:
        creds = self.credentials or {}
        return boto3.client(
            service,
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=creds.get("AccessKeyId"),
            aws_secret_access_key=creds.get("SecretAccessKey"),
            aws_session_token=creds.get("SessionToken"),
            config=botocore.config.Config(
                retries={"max_attempts": 1},
                signature_version=botocore.UNSIGNED if self.credentials is None else None,
            ),
        )


def key_of(created: dict[str, Any]) -> dict[str, str]:
    key = created["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def assume(url: str, who: dict[str, str], role_arn: str) -> dict[str, str]:
    sts = Who("", who).client(url, "sts")
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="matrix")["Credentials"]
    return {k: credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def make_principals(registry: RunningRegistry, capsys: pytest.CaptureFixture[str]) -> list[Who]:
    url = registry.url
    root = {"AccessKeyId": ROOT_KEY_ID, "SecretAccessKey": ROOT_SECRET}
    iam = Who("root", root).client(url, "iam")

    def user(name: str, *policies: str) -> dict[str, str]:
        iam.create_user(UserName=name)
        for i, policy in enumerate(policies):
            iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=policy)
        return key_of(iam.create_access_key(UserName=name))

    guide = json.dumps(GUIDE_IDENTITY_POLICY)
    alice = user("alice", guide, json.dumps(LOGIN_ONLY))
    bob = user("bob")
    dave = user("dave", json.dumps(LOGIN_ONLY))
    carol = user(
        "carol",
        doc(
            statement("Allow", "ecr:*"),
            statement("Deny", ["ecr:PutImage", "ecr:BatchDeleteImage"], REPO_ARN),
        ),
    )
    # A role in the same account that alice (named in its trust policy) may assume.
    iam.create_role(
        RoleName="builder",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{HOME}:user/alice"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="builder",
        PolicyName="push-pull",
        PolicyDocument=doc(
            statement("Allow", PULL + PUSH, f"arn:aws:ecr:us-east-1:{HOME}:repository/team/*"),
            statement("Allow", "ecr:GetAuthorizationToken"),
        ),
    )
    builder = assume(url, alice, f"arn:aws:iam::{HOME}:role/builder")

    # The other account: its root, and its service-role, assumed by its own user "ops".
    settings = registry.settings
    assert cli.main(
        ["account", "create", "--account-id", OTHER, "--data-dir", str(settings.data_dir),
         "--database-url", settings.sqlalchemy_url]
    ) == 0  # fmt: skip
    out = capsys.readouterr().out
    other_root = {
        "AccessKeyId": re.findall(r"AWS_ACCESS_KEY_ID=(\S+)", out)[0],
        "SecretAccessKey": re.findall(r"AWS_SECRET_ACCESS_KEY=(\S+)", out)[0],
    }
    other_iam = Who("", other_root).client(url, "iam")
    other_iam.create_role(
        RoleName="service-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": OTHER},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    other_iam.put_role_policy(
        RoleName="service-role",
        PolicyName="pull-anything",
        PolicyDocument=doc(statement("Allow", ["ecr:*"])),
    )
    other_iam.create_user(UserName="ops")
    other_iam.put_user_policy(
        UserName="ops",
        PolicyName="assume",
        PolicyDocument=doc(statement("Allow", "sts:AssumeRole")),
    )
    ops = key_of(other_iam.create_access_key(UserName="ops"))
    service_role = assume(url, ops, f"arn:aws:iam::{OTHER}:role/service-role")
    return [
        Who("root", root),
        Who("alice", alice),
        Who("bob", bob),
        Who("dave", dave),
        Who("carol", carol),
        Who("builder", builder),
        Who("other-role", service_role),
        Who("other-root", other_root),
        Who("anonymous", None),
    ]


# --- the actions --------------------------------------------------------------------------------

Check = Callable[[Who, RunningRegistry, dict[str, Any]], str]


def ecr_call(operation: str, **params: Any) -> Check:
    def check(who: Who, registry: RunningRegistry, state: dict[str, Any]) -> str:
        client = who.client(registry.url, "ecr")
        bound = {
            k: (v(who) if callable(v) else v) for k, v in params.items()
        }  # per-principal names
        try:
            getattr(client, operation)(**bound)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "AccessDeniedException":
                message = exc.response["Error"]["Message"]
                assert message.startswith("User: "), message
                return "deny"
            if code in ("MissingAuthenticationTokenException", "UnrecognizedClientException"):
                return "unauthenticated"
            return "allow"  # the operation ran and failed on its own terms
        return "allow"

    return check


def registry_client(
    who: Who, registry: RunningRegistry, state: dict[str, Any]
) -> httpx.Client | None:
    """A /v2/ client logged in as `who` and addressing the first account's registry; None when
    `who` cannot log in."""
    host = {"Host": f"{HOME}.dkr.ecr.us-east-1.localhost"}
    if who.credentials is None:
        return httpx.Client(base_url=registry.url, headers=host, timeout=30)
    if who.name not in state["passwords"]:
        try:
            token = who.client(registry.url, "ecr").get_authorization_token()
        except ClientError:
            state["passwords"][who.name] = None
        else:
            raw = token["authorizationData"][0]["authorizationToken"]
            state["passwords"][who.name] = base64.b64decode(raw).decode().split(":", 1)[1]
    password = state["passwords"][who.name]
    if password is None:
        return None
    return httpx.Client(base_url=registry.url, headers=host, auth=("AWS", password), timeout=30)


def v2(method: str, path: Callable[[Who, dict[str, Any]], str], **kwargs: Any) -> Check:
    def check(who: Who, registry: RunningRegistry, state: dict[str, Any]) -> str:
        client = registry_client(who, registry, state)
        if client is None:
            return "unauthenticated"
        with client:
            body = kwargs.get("content")
            response = client.request(
                method,
                path(who, state),
                content=body(who, state) if callable(body) else body,
                headers=kwargs.get("headers"),
            )
        if response.status_code == 401:
            return "unauthenticated"
        if response.status_code == 403:
            if method != "HEAD":
                assert response.json()["errors"][0]["code"] == "DENIED"
            return "deny"
        assert response.status_code < 500, response.text
        return "allow"

    return check


NEW_BLOB = b"a layer pushed in the matrix"


def manifest_for(who: Who, state: dict[str, Any]) -> bytes:
    return image_manifest(state["config"], state["layers"], annotations={"by": who.name})


ACTIONS: dict[str, Check] = {
    "GetAuthorizationToken": ecr_call("get_authorization_token"),
    "DescribeRepositories": ecr_call(
        "describe_repositories", registryId=HOME, repositoryNames=[REPO]
    ),
    "DescribeImages": ecr_call("describe_images", registryId=HOME, repositoryName=REPO),
    "BatchGetImage": ecr_call(
        "batch_get_image", registryId=HOME, repositoryName=REPO, imageIds=[{"imageTag": "v1"}]
    ),
    "ListImages": ecr_call("list_images", registryId=HOME, repositoryName=REPO),
    "BatchDeleteImage": ecr_call(
        "batch_delete_image",
        registryId=HOME,
        repositoryName=REPO,
        imageIds=[{"imageTag": "no-such-tag"}],
    ),
    "GetRepositoryPolicy": ecr_call("get_repository_policy", registryId=HOME, repositoryName=REPO),
    "CreateRepository": ecr_call(
        "create_repository", registryId=HOME, repositoryName=lambda who: f"made-by/{who.name}"
    ),
    "DescribeImages(elsewhere)": ecr_call(
        "describe_images", registryId=HOME, repositoryName=ELSEWHERE
    ),
    "pull manifest": v2("GET", lambda who, s: f"/v2/{REPO}/manifests/v1"),
    "pull blob": v2("GET", lambda who, s: f"/v2/{REPO}/blobs/{s['layer']}"),
    "check blob": v2("HEAD", lambda who, s: f"/v2/{REPO}/blobs/{s['layer']}"),
    "push blob": v2(
        "POST",
        lambda who, s: f"/v2/{REPO}/blobs/uploads/?digest={sha256(NEW_BLOB)}",
        content=NEW_BLOB,
    ),
    "push manifest": v2(
        "PUT",
        lambda who, s: f"/v2/{REPO}/manifests/by-{who.name}",
        content=manifest_for,
        headers={"Content-Type": OCI_MANIFEST},
    ),
    "pull manifest(elsewhere)": v2("GET", lambda who, s: f"/v2/{ELSEWHERE}/manifests/v1"),
}

ALL = set(ACTIONS)
V2 = {a for a in ACTIONS if a.startswith(("pull", "push", "check"))}
GUIDE = {
    "GetAuthorizationToken",
    "DescribeRepositories",
    "DescribeImages",
    "BatchGetImage",
    "ListImages",
    "GetRepositoryPolicy",
    "pull manifest",
    "pull blob",
    "check blob",
    "push blob",
    "push manifest",
}
ROLE_PUSH_PULL = {
    "GetAuthorizationToken",
    "BatchGetImage",
    "pull manifest",
    "pull blob",
    "check blob",
    "push blob",
    "push manifest",
    "pull manifest(elsewhere)",
}
# What each principal may do, by AWS's logic; everything else is denied (or, without a login,
# unauthenticated).
ALLOWED: dict[str, set[str]] = {
    "root": ALL,
    "alice": GUIDE,  # the guide's policy names one repository: nothing elsewhere
    "bob": set(),  # no policy at all: not even a login
    "dave": {"GetAuthorizationToken"},
    "carol": ALL - {"BatchDeleteImage", "push manifest"},  # explicit deny beats ecr:*
    "builder": ROLE_PUSH_PULL,
    # Another account: its own login works, the first account's repositories are closed.
    "other-role": {"GetAuthorizationToken"},
    "other-root": {"GetAuthorizationToken"},
    "anonymous": set(),
}
# With the guide's repository policy, the other account's role may pull (both sides allow);
# the other account's root is not named by it, and HEAD of a blob is not among its actions.
ALLOWED_WITH_REPOSITORY_POLICY = {
    **ALLOWED,
    "other-role": {"GetAuthorizationToken", "BatchGetImage", "pull manifest", "pull blob"},
}


def expected(who: str, action: str, allowed: dict[str, set[str]]) -> str:
    if action in allowed[who]:
        return "allow"
    if who == "anonymous":
        return "unauthenticated"
    if who == "bob" and action in V2:
        return "unauthenticated"  # bob cannot get a registry login in the first place
    return "deny"


def run_matrix(
    principals: list[Who], registry: RunningRegistry, state: dict[str, Any]
) -> dict[tuple[str, str], str]:
    return {
        (who.name, action): check(who, registry, state)
        for who in principals
        for action, check in ACTIONS.items()
    }


def test_authorization_matrix(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.ecr.create_repository(repositoryName=REPO)
    registry.ecr.create_repository(repositoryName=ELSEWHERE)
    digest, manifest = push_image(registry.client, REPO, "v1")
    push_image(registry.client, ELSEWHERE, "v1")
    doc_ = json.loads(manifest)
    config = b'{"architecture":"amd64","os":"linux","seed":"a"}'
    layers = [b"layer-one-a", b"layer-two-a"]
    assert doc_["config"]["digest"] == sha256(config)
    for blob in (config, *layers):
        push_blob(registry.client, REPO, blob)
    state: dict[str, Any] = {
        "passwords": {},
        "layer": doc_["layers"][0]["digest"],
        "config": config,
        "layers": layers,
    }
    principals = make_principals(registry, capsys)

    outcomes = run_matrix(principals, registry, state)
    wrong = {
        key: (got, expected(*key, ALLOWED))
        for key, got in outcomes.items()
        if got != expected(*key, ALLOWED)
    }
    assert not wrong, wrong

    registry.ecr.set_repository_policy(
        repositoryName=REPO, policyText=json.dumps(GUIDE_REPOSITORY_POLICY)
    )
    outcomes = run_matrix(principals, registry, state)
    wrong = {
        key: (got, expected(*key, ALLOWED_WITH_REPOSITORY_POLICY))
        for key, got in outcomes.items()
        if got != expected(*key, ALLOWED_WITH_REPOSITORY_POLICY)
    }
    assert not wrong, wrong
    assert digest
