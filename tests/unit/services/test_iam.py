"""IamService on a real database (SQLite here, PostgreSQL with BERTH_TEST_DATABASE_URL): every
operation, IAM's errors with their messages, the quotas, and `identity` for authorization."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from berth.domain import sigv4
from berth.errors import BerthError
from berth.services.auth import AuthService
from berth.services.iam import IamService, Page, policy_size
from berth.services.iam_errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from berth.storage.iam_ports import Identity
from berth.storage.metadata import migrate
from berth.storage.metadata.iam import SqlIamStore
from berth.storage.metadata.store import SqlMetadataStore

T = TypeVar("T")
ACCOUNT = "123456789012"
OTHER = "210987654321"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def document(action: str = "ecr:*", resource: str = "*", effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}],
    }
)


@dataclass
class Env:
    loop: asyncio.AbstractEventLoop
    iam: IamService
    auth: AuthService
    metadata: SqlMetadataStore

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def fails(self, error: type[BerthError], work: Coroutine[Any, Any, Any]) -> str:
        """The message of the `error` that `work` raises."""
        with pytest.raises(error) as caught:
            self.run(work)
        assert type(caught.value) is error
        return caught.value.message


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    migrate.upgrade(database_url)
    metadata = SqlMetadataStore(database_url)
    loop = asyncio.new_event_loop()
    auth = AuthService(metadata, b"k" * 32)
    loop.run_until_complete(metadata.ensure_account(ACCOUNT))
    loop.run_until_complete(metadata.ensure_account(OTHER))
    try:
        yield Env(
            loop,
            IamService(SqlIamStore(metadata), auth.seal_secret, keys_changed=auth.invalidate_keys),
            auth,
            metadata,
        )
    finally:
        loop.run_until_complete(metadata.close())
        loop.close()


def names(page: Page[Any]) -> list[str]:
    return [item if isinstance(item, str) else item.name for item in page.items]


def signed(key_id: str, secret: str) -> sigv4.SignedRequest:
    """A DescribeRepositories request as botocore signs it now."""
    url = "https://api.ecr.us-east-1.amazonaws.com/"
    headers = {
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": "application/x-amz-json-1.1",
    }
    request = AWSRequest(method="POST", url=url, headers=headers, data=b"{}")
    now = datetime.now(UTC)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        SigV4Auth(Credentials(key_id, secret), "ecr", "us-east-1").add_auth(request)
    pairs = [*request.headers.items(), ("Host", "api.ecr.us-east-1.amazonaws.com")]
    return sigv4.SignedRequest("POST", url, pairs, b"{}")


# users


def test_create_get_and_list_users(env: Env) -> None:
    bob = env.run(env.iam.create_user(ACCOUNT, "Bob", tags=[("team", "platform")]))
    assert re.fullmatch(r"AIDA[A-Z0-9]{16}", bob.user_id)
    assert (bob.path, bob.arn) == ("/", f"arn:aws:iam::{ACCOUNT}:user/Bob")
    assert bob.tags == (("team", "platform"),)
    ci = env.run(env.iam.create_user(ACCOUNT, "ci+deploy@example.com", path="/automation/ci/"))
    assert ci.arn == f"arn:aws:iam::{ACCOUNT}:user/automation/ci/ci+deploy@example.com"
    # Names are found regardless of case; the user keeps its own spelling.
    assert env.run(env.iam.get_user(ACCOUNT, "bob", caller_arn=ROOT)) == bob
    assert names(env.run(env.iam.list_users(ACCOUNT))) == ["Bob", "ci+deploy@example.com"]
    assert names(env.run(env.iam.list_users(ACCOUNT, path_prefix="/automation/"))) == [
        "ci+deploy@example.com"
    ]
    assert names(env.run(env.iam.list_users(ACCOUNT, path_prefix="/automation/x"))) == []
    # Another account is another namespace.
    assert names(env.run(env.iam.list_users(OTHER))) == []
    env.run(env.iam.create_user(OTHER, "bob"))
    assert env.fails(NoSuchEntity, env.iam.get_user(ACCOUNT, "alice", caller_arn=ROOT)) == (
        "The user with name alice cannot be found."
    )


def test_user_names_are_unique_regardless_of_case(env: Env) -> None:
    env.run(env.iam.create_user(ACCOUNT, "bob"))
    assert env.fails(EntityAlreadyExists, env.iam.create_user(ACCOUNT, "BOB", path="/x/")) == (
        "User with name BOB already exists."
    )


def test_user_input_is_checked(env: Env) -> None:
    create = env.iam.create_user
    assert "regular expression pattern" in env.fails(IamValidationError, create(ACCOUNT, "a b"))
    assert "length less than or equal to 64" in env.fails(
        IamValidationError, create(ACCOUNT, "a" * 65)
    )
    for path in ("team", "/team", "team/", "/a b/"):
        env.fails(IamValidationError, create(ACCOUNT, "bob", path=path))
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/boundary"
    env.fails(IamValidationError, create(ACCOUNT, "bob", permissions_boundary=boundary))
    assert env.fails(InvalidInput, create(ACCOUNT, "bob", tags=[("a", "1"), ("A", "2")])) == (
        "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    )
    env.fails(IamValidationError, create(ACCOUNT, "bob", tags=[(f"k{i}", "v") for i in range(51)]))
    assert names(env.run(env.iam.list_users(ACCOUNT))) == []


def test_get_user_without_a_name_is_the_caller(env: Env) -> None:
    root = env.run(env.iam.get_user(ACCOUNT, None, caller_arn=ROOT))
    assert (root.user_id, root.arn, root.name, root.path) == (ACCOUNT, ROOT, "", "")
    assert root.created_at.tzinfo is not None
    bob = env.run(env.iam.create_user(ACCOUNT, "bob", path="/team/"))
    assert env.run(env.iam.get_user(ACCOUNT, None, caller_arn=bob.arn)) == bob
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci"
    assert env.fails(IamValidationError, env.iam.get_user(ACCOUNT, None, caller_arn=session)) == (
        "Must specify userName when calling with non-User credentials"
    )
    # A caller whose user was deleted (or re-created elsewhere) is no user any more.
    moved = f"arn:aws:iam::{ACCOUNT}:user/bob"
    env.fails(NoSuchEntity, env.iam.get_user(ACCOUNT, None, caller_arn=moved))


def test_listings_page_with_markers(env: Env) -> None:
    for name in ["e", "B", "a", "d", "C", "f", "g"]:
        env.run(env.iam.create_user(ACCOUNT, name))
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        page = env.run(env.iam.list_users(ACCOUNT, marker=marker, max_items=3))
        pages += 1
        seen += names(page)
        if not page.is_truncated:
            assert page.marker is None
            break
        marker = page.marker
    assert (seen, pages) == (["a", "B", "C", "d", "e", "f", "g"], 3)
    exact = env.run(env.iam.list_users(ACCOUNT, max_items=7))
    assert (len(exact.items), exact.is_truncated) == (7, False)
    assert env.fails(IamValidationError, env.iam.list_users(ACCOUNT, marker="garbage")) == (
        "Invalid Marker."
    )
    env.fails(IamValidationError, env.iam.list_users(ACCOUNT, max_items=0))
    env.fails(IamValidationError, env.iam.list_users(ACCOUNT, max_items=1001))


def test_delete_user_needs_everything_gone_first(env: Env) -> None:
    iam = env.iam
    bob = env.run(iam.create_user(ACCOUNT, "bob"))
    key = env.run(iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT))
    env.run(iam.put_user_policy(ACCOUNT, "bob", "ecr", document()))
    policy = env.run(iam.create_policy(ACCOUNT, "managed", document()))
    env.run(iam.attach_user_policy(ACCOUNT, "bob", policy.arn))
    env.run(iam.create_group(ACCOUNT, "devs"))
    env.run(iam.add_user_to_group(ACCOUNT, "devs", "bob"))

    def conflict() -> str:
        return env.fails(DeleteConflict, iam.delete_user(ACCOUNT, "BOB"))

    assert conflict() == "Cannot delete entity, must delete access keys first."
    env.run(iam.delete_access_key(ACCOUNT, "bob", key.access_key_id, caller_arn=ROOT))
    assert conflict() == "Cannot delete entity, must delete policies first."
    env.run(iam.delete_user_policy(ACCOUNT, "bob", "ecr"))
    assert conflict() == "Cannot delete entity, must detach all policies first."
    env.run(iam.detach_user_policy(ACCOUNT, "bob", policy.arn))
    assert conflict() == "Cannot delete entity, must remove users from group first."
    env.run(iam.remove_user_from_group(ACCOUNT, "devs", "bob"))
    env.run(iam.delete_user(ACCOUNT, "BOB"))
    assert env.run(iam.identity(bob.arn)) is None
    assert env.fails(NoSuchEntity, iam.delete_user(ACCOUNT, "bob")) == (
        "The user with name bob cannot be found."
    )
    # The name is free again, with a new id.
    assert env.run(iam.create_user(ACCOUNT, "bob")).user_id != bob.user_id


# access keys


def test_access_keys_authenticate_until_deactivated_or_deleted(env: Env) -> None:
    iam = env.iam
    bob = env.run(iam.create_user(ACCOUNT, "bob", path="/team/"))
    key = env.run(iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT))
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key.access_key_id)
    assert key.secret is not None and len(key.secret) == 40
    assert (key.user_name, key.status) == ("bob", "Active")
    stored = env.run(env.metadata.get_access_key(key.access_key_id))
    assert stored is not None
    assert (stored.principal_arn, stored.account_id) == (bob.arn, ACCOUNT)
    assert key.secret.encode() not in stored.sealed_secret

    caller, region = env.run(
        env.auth.authenticate(signed(key.access_key_id, key.secret), service="ecr")
    )
    assert (caller.principal_arn, caller.account_id, region) == (bob.arn, ACCOUNT, "us-east-1")

    env.run(iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Inactive", caller_arn=ROOT))
    listed = env.run(iam.list_access_keys(ACCOUNT, "bob", caller_arn=ROOT))
    assert [(k.access_key_id, k.status, k.secret) for k in listed.items] == [
        (key.access_key_id, "Inactive", None)
    ]
    with pytest.raises(sigv4.UnrecognizedClient):
        env.run(env.auth.authenticate(signed(key.access_key_id, key.secret), service="ecr"))
    env.run(iam.update_access_key(ACCOUNT, "bob", key.access_key_id, "Active", caller_arn=ROOT))
    env.run(env.auth.authenticate(signed(key.access_key_id, key.secret), service="ecr"))

    env.run(iam.delete_access_key(ACCOUNT, "bob", key.access_key_id, caller_arn=ROOT))
    with pytest.raises(sigv4.UnrecognizedClient):
        env.run(env.auth.authenticate(signed(key.access_key_id, key.secret), service="ecr"))
    assert env.run(iam.list_access_keys(ACCOUNT, "bob", caller_arn=ROOT)).items == []


def test_access_key_quota_and_ownership(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    env.run(iam.create_user(ACCOUNT, "alice"))
    first = env.run(iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT))
    second = env.run(iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT))
    assert env.fails(LimitExceeded, iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT)) == (
        "Cannot exceed quota for AccessKeysPerUser: 2"
    )
    # Inactive keys count too.
    env.run(iam.update_access_key(ACCOUNT, "bob", first.access_key_id, "Inactive", caller_arn=ROOT))
    env.fails(LimitExceeded, iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT))
    page = env.run(iam.list_access_keys(ACCOUNT, "bob", caller_arn=ROOT, max_items=1))
    assert page.is_truncated
    rest = env.run(iam.list_access_keys(ACCOUNT, "bob", caller_arn=ROOT, marker=page.marker))
    assert {k.access_key_id for k in page.items + rest.items} == {
        first.access_key_id,
        second.access_key_id,
    }
    # Another user's key is not found through this one.
    message = env.fails(
        NoSuchEntity,
        iam.delete_access_key(ACCOUNT, "alice", first.access_key_id, caller_arn=ROOT),
    )
    assert message == f"The Access Key with id {first.access_key_id} cannot be found."
    env.fails(
        NoSuchEntity,
        iam.update_access_key(ACCOUNT, "alice", second.access_key_id, "Inactive", caller_arn=ROOT),
    )
    env.fails(
        IamValidationError,
        iam.update_access_key(ACCOUNT, "bob", second.access_key_id, "Paused", caller_arn=ROOT),
    )
    env.fails(NoSuchEntity, iam.create_access_key(ACCOUNT, "carol", caller_arn=ROOT))


def test_access_keys_of_the_caller(env: Env) -> None:
    iam = env.iam
    # The root's own keys, without a UserName.
    root_key = env.run(iam.create_access_key(ACCOUNT, None, caller_arn=ROOT))
    assert root_key.user_name is None
    stored = env.run(env.metadata.get_access_key(root_key.access_key_id))
    assert stored is not None and stored.principal_arn == ROOT
    listed = env.run(iam.list_access_keys(ACCOUNT, None, caller_arn=ROOT))
    assert [k.access_key_id for k in listed.items] == [root_key.access_key_id]
    # A user's own keys.
    bob = env.run(iam.create_user(ACCOUNT, "bob"))
    own = env.run(iam.create_access_key(ACCOUNT, None, caller_arn=bob.arn))
    assert own.user_name == "bob"
    assert [
        k.access_key_id
        for k in env.run(iam.list_access_keys(ACCOUNT, None, caller_arn=bob.arn)).items
    ] == [own.access_key_id]
    env.fails(
        NoSuchEntity,
        iam.delete_access_key(ACCOUNT, None, root_key.access_key_id, caller_arn=bob.arn),
    )
    env.run(iam.delete_access_key(ACCOUNT, None, own.access_key_id, caller_arn=bob.arn))
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci"
    env.fails(IamValidationError, iam.create_access_key(ACCOUNT, None, caller_arn=session))


# inline policies


def test_inline_user_policies(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    env.run(iam.put_user_policy(ACCOUNT, "bob", "ecr", document()))
    assert env.run(iam.get_user_policy(ACCOUNT, "BOB", "ECR")).document == document()
    # Put again replaces (names ignore case, the newest spelling stays).
    env.run(iam.put_user_policy(ACCOUNT, "bob", "Ecr", document("ecr:Describe*")))
    policy = env.run(iam.get_user_policy(ACCOUNT, "bob", "ecr"))
    assert (policy.name, policy.document) == ("Ecr", document("ecr:Describe*"))
    for name in ("b", "a", "c"):
        env.run(iam.put_user_policy(ACCOUNT, "bob", name, document()))
    first = env.run(iam.list_user_policies(ACCOUNT, "bob", max_items=2))
    rest = env.run(iam.list_user_policies(ACCOUNT, "bob", marker=first.marker))
    assert (names(first), names(rest), rest.is_truncated) == (["a", "b"], ["c", "Ecr"], False)
    env.run(iam.delete_user_policy(ACCOUNT, "bob", "ECR"))
    assert env.fails(NoSuchEntity, iam.get_user_policy(ACCOUNT, "bob", "ecr")) == (
        "The user policy with name ecr cannot be found."
    )
    assert env.fails(NoSuchEntity, iam.delete_user_policy(ACCOUNT, "bob", "ecr")) == (
        "The user policy with name ecr cannot be found."
    )
    env.fails(NoSuchEntity, iam.put_user_policy(ACCOUNT, "carol", "p", document()))
    env.fails(NoSuchEntity, iam.list_user_policies(ACCOUNT, "carol"))


def test_policy_documents_are_validated(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    assert env.fails(MalformedPolicyDocument, iam.put_user_policy(ACCOUNT, "bob", "p", "{")) == (
        "Syntax errors in policy."
    )
    with_principal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}
            ],
        }
    )
    assert env.fails(
        MalformedPolicyDocument, iam.put_user_policy(ACCOUNT, "bob", "p", with_principal)
    ) == ("Policy document should not specify a principal.")
    env.fails(MalformedPolicyDocument, iam.create_policy(ACCOUNT, "p", with_principal))
    # A trust policy is the other way round: it needs a principal.
    env.fails(MalformedPolicyDocument, iam.create_role(ACCOUNT, "deploy", document()))
    assert env.run(iam.list_user_policies(ACCOUNT, "bob")).items == []


def test_inline_policy_size_quotas_add_up_without_white_space(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    env.run(iam.create_group(ACCOUNT, "devs"))
    env.run(iam.create_role(ACCOUNT, "deploy", TRUST))

    def sized(size: int) -> str:
        base = document(resource="arn:aws:ecr:*:*:repository/")
        padded = document(resource="arn:aws:ecr:*:*:repository/" + "x" * (size - policy_size(base)))
        assert policy_size(padded) == size
        return padded

    for kind, limit in (("user", 2048), ("group", 5120), ("role", 10240)):
        put = {
            "user": lambda n, d: iam.put_user_policy(ACCOUNT, "bob", n, d),
            "group": lambda n, d: iam.put_group_policy(ACCOUNT, "devs", n, d),
            "role": lambda n, d: iam.put_role_policy(ACCOUNT, "deploy", n, d),
        }[kind]
        name = {"user": "bob", "group": "devs", "role": "deploy"}[kind]
        env.run(put("one", sized(limit - 300)))
        # White space is not counted.
        env.run(put("two", sized(200).replace(",", ",     \n\t ")))
        assert env.fails(LimitExceeded, put("three", sized(150))) == (
            f"Maximum policy size of {limit} bytes exceeded for {kind} {name}"
        )
        # Replacing a policy counts its new size only; the quota itself may be used up.
        env.run(put("two", sized(150)))
        env.run(put("three", sized(150)))
        env.fails(LimitExceeded, put("four", sized(120)))


# managed policies


def test_managed_policies(env: Env) -> None:
    iam = env.iam
    created = env.run(
        iam.create_policy(
            ACCOUNT, "EcrRead", document("ecr:Describe*"), path="/ecr/", description="Reads"
        )
    )
    assert re.fullmatch(r"ANPA[A-Z0-9]{16}", created.policy_id)
    assert created.arn == f"arn:aws:iam::{ACCOUNT}:policy/ecr/EcrRead"
    assert env.fails(EntityAlreadyExists, iam.create_policy(ACCOUNT, "ecrread", document())) == (
        "A policy called ecrread already exists. Duplicate names are not allowed."
    )
    got = env.run(iam.get_policy(ACCOUNT, created.arn))
    assert (got.description, got.attachment_count, got.document) == (
        "Reads",
        0,
        document("ecr:Describe*"),
    )
    assert env.run(iam.get_policy_version(ACCOUNT, created.arn, "v1")).document == got.document
    assert env.fails(NoSuchEntity, iam.get_policy_version(ACCOUNT, created.arn, "v2")) == (
        f"Policy {created.arn} version v2 does not exist or is not attachable."
    )
    for arn in (
        "arn:aws:iam::aws:policy/AdministratorAccess",
        f"arn:aws:iam::{OTHER}:policy/ecr/EcrRead",
        f"arn:aws:iam::{ACCOUNT}:policy/EcrRead",  # the path is part of the ARN
    ):
        assert env.fails(NoSuchEntity, iam.get_policy(ACCOUNT, arn)) == (
            f"Policy {arn} was not found."
        )
    assert env.fails(InvalidInput, iam.get_policy(ACCOUNT, "arn:aws:s3:::bucket")) == (
        "ARN arn:aws:s3:::bucket is not valid."
    )
    assert env.fails(
        LimitExceeded,
        iam.create_policy(
            ACCOUNT, "huge", document(resource="arn:aws:ecr:*:*:repository/" + "x" * 6100)
        ),
    ) == ("Cannot exceed quota for PolicySize: 6144")

    other = env.run(iam.create_policy(ACCOUNT, "Other", document()))
    listed = env.run(iam.list_policies(ACCOUNT))
    assert names(listed) == ["EcrRead", "Other"]
    assert names(env.run(iam.list_policies(ACCOUNT, path_prefix="/ecr/"))) == ["EcrRead"]
    assert names(env.run(iam.list_policies(ACCOUNT, scope="AWS"))) == []
    assert names(env.run(iam.list_policies(ACCOUNT, only_attached=True))) == []

    env.run(iam.delete_policy(ACCOUNT, other.arn))
    assert env.fails(NoSuchEntity, iam.delete_policy(ACCOUNT, other.arn)) == (
        f"Policy {other.arn} was not found."
    )


def test_attaching_managed_policies(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    policy = env.run(iam.create_policy(ACCOUNT, "EcrRead", document(), path="/ecr/"))
    env.run(iam.attach_user_policy(ACCOUNT, "bob", policy.arn))
    env.run(iam.attach_user_policy(ACCOUNT, "BOB", policy.arn))  # again: nothing changes
    attached = env.run(iam.list_attached_user_policies(ACCOUNT, "bob"))
    assert [(p.name, p.arn) for p in attached.items] == [("EcrRead", policy.arn)]
    assert env.run(iam.list_attached_user_policies(ACCOUNT, "bob", path_prefix="/x/")).items == []
    assert env.run(iam.get_policy(ACCOUNT, policy.arn)).attachment_count == 1
    assert names(env.run(iam.list_policies(ACCOUNT, only_attached=True))) == ["EcrRead"]
    assert env.fails(DeleteConflict, iam.delete_policy(ACCOUNT, policy.arn)) == (
        "Cannot delete a policy attached to entities."
    )
    for arn in ("arn:aws:iam::aws:policy/ReadOnlyAccess", f"arn:aws:iam::{ACCOUNT}:policy/nope"):
        assert env.fails(NoSuchEntity, iam.attach_user_policy(ACCOUNT, "bob", arn)) == (
            f"Policy {arn} does not exist or is not attachable."
        )
    env.fails(InvalidInput, iam.attach_user_policy(ACCOUNT, "bob", "not an arn"))
    env.fails(NoSuchEntity, iam.attach_user_policy(ACCOUNT, "carol", policy.arn))

    # Ten attached policies per principal.
    more = [env.run(iam.create_policy(ACCOUNT, f"p{i}", document())) for i in range(10)]
    for extra in more[:9]:
        env.run(iam.attach_user_policy(ACCOUNT, "bob", extra.arn))
    assert env.fails(LimitExceeded, iam.attach_user_policy(ACCOUNT, "bob", more[9].arn)) == (
        "Cannot exceed quota for PoliciesPerUser: 10"
    )
    page = env.run(iam.list_attached_user_policies(ACCOUNT, "bob", max_items=4))
    assert page.is_truncated and len(page.items) == 4

    env.run(iam.detach_user_policy(ACCOUNT, "bob", policy.arn))
    assert env.fails(NoSuchEntity, iam.detach_user_policy(ACCOUNT, "bob", policy.arn)) == (
        f"Policy {policy.arn} was not found."
    )
    env.run(iam.delete_policy(ACCOUNT, policy.arn))


# groups


def test_groups_and_members(env: Env) -> None:
    iam = env.iam
    devs = env.run(iam.create_group(ACCOUNT, "Devs", path="/eng/"))
    assert re.fullmatch(r"AGPA[A-Z0-9]{16}", devs.group_id)
    assert devs.arn == f"arn:aws:iam::{ACCOUNT}:group/eng/Devs"
    assert env.fails(EntityAlreadyExists, iam.create_group(ACCOUNT, "devs")) == (
        "Group with name devs already exists."
    )
    for name in ("bob", "alice", "carol"):
        env.run(iam.create_user(ACCOUNT, name))
        env.run(iam.add_user_to_group(ACCOUNT, "devs", name))
    env.run(iam.add_user_to_group(ACCOUNT, "devs", "bob"))  # again: nothing changes
    group, members = env.run(iam.get_group(ACCOUNT, "DEVS", max_items=2))
    assert group == devs
    assert (names(members), members.is_truncated) == (["alice", "bob"], True)
    _, rest = env.run(iam.get_group(ACCOUNT, "devs", marker=members.marker))
    assert names(rest) == ["carol"]
    env.run(iam.create_group(ACCOUNT, "admins"))
    env.run(iam.add_user_to_group(ACCOUNT, "admins", "bob"))
    assert names(env.run(iam.list_groups_for_user(ACCOUNT, "bob"))) == ["admins", "Devs"]
    assert names(env.run(iam.list_groups(ACCOUNT))) == ["admins", "Devs"]
    assert names(env.run(iam.list_groups(ACCOUNT, path_prefix="/eng/"))) == ["Devs"]

    assert env.fails(NoSuchEntity, iam.add_user_to_group(ACCOUNT, "ops", "bob")) == (
        "The group with name ops cannot be found."
    )
    env.fails(NoSuchEntity, iam.add_user_to_group(ACCOUNT, "devs", "dave"))
    env.run(iam.remove_user_from_group(ACCOUNT, "admins", "bob"))
    env.fails(NoSuchEntity, iam.remove_user_from_group(ACCOUNT, "admins", "bob"))
    assert names(env.run(iam.list_groups_for_user(ACCOUNT, "bob"))) == ["Devs"]


def test_group_policies_and_delete_group(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_group(ACCOUNT, "devs"))
    env.run(iam.create_user(ACCOUNT, "bob"))
    env.run(iam.add_user_to_group(ACCOUNT, "devs", "bob"))
    env.run(iam.put_group_policy(ACCOUNT, "devs", "ecr", document()))
    assert env.run(iam.get_group_policy(ACCOUNT, "devs", "ecr")).document == document()
    assert names(env.run(iam.list_group_policies(ACCOUNT, "devs"))) == ["ecr"]
    policy = env.run(iam.create_policy(ACCOUNT, "EcrRead", document()))
    env.run(iam.attach_group_policy(ACCOUNT, "devs", policy.arn))
    assert names(env.run(iam.list_attached_group_policies(ACCOUNT, "devs"))) == ["EcrRead"]

    def conflict() -> str:
        return env.fails(DeleteConflict, iam.delete_group(ACCOUNT, "devs"))

    assert conflict() == "Cannot delete entity, must remove users from group first."
    env.run(iam.remove_user_from_group(ACCOUNT, "devs", "bob"))
    assert conflict() == "Cannot delete entity, must delete policies first."
    env.run(iam.delete_group_policy(ACCOUNT, "devs", "ecr"))
    assert env.fails(NoSuchEntity, iam.get_group_policy(ACCOUNT, "devs", "ecr")) == (
        "The group policy with name ecr cannot be found."
    )
    assert conflict() == "Cannot delete entity, must detach all policies first."
    env.run(iam.detach_group_policy(ACCOUNT, "devs", policy.arn))
    env.run(iam.delete_group(ACCOUNT, "devs"))
    env.fails(NoSuchEntity, iam.delete_group(ACCOUNT, "devs"))


def test_groups_per_user_quota(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "bob"))
    for i in range(11):
        env.run(iam.create_group(ACCOUNT, f"g{i}"))
    for i in range(10):
        env.run(iam.add_user_to_group(ACCOUNT, f"g{i}", "bob"))
    assert env.fails(LimitExceeded, iam.add_user_to_group(ACCOUNT, "g10", "bob")) == (
        "Cannot exceed quota for GroupsPerUser: 10"
    )
    env.run(iam.add_user_to_group(ACCOUNT, "g3", "bob"))  # a member already: fine


# roles


def test_roles(env: Env) -> None:
    iam = env.iam
    role = env.run(iam.create_role(ACCOUNT, "Deploy", TRUST, path="/ci/", description="CI"))
    assert re.fullmatch(r"AROA[A-Z0-9]{16}", role.role_id)
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/ci/Deploy"
    assert (role.max_session_duration, role.trust_policy, role.description) == (3600, TRUST, "CI")
    assert env.run(iam.get_role(ACCOUNT, "deploy")) == role
    assert env.run(iam.get_role(ACCOUNT, "nope")) is None
    assert env.run(iam.get_role(OTHER, "deploy")) is None
    assert env.run(iam.require_role(ACCOUNT, "DEPLOY")) == role
    assert env.fails(NoSuchEntity, iam.require_role(ACCOUNT, "nope")) == (
        "The role with name nope cannot be found."
    )
    assert env.fails(EntityAlreadyExists, iam.create_role(ACCOUNT, "deploy", TRUST)) == (
        "Role with name deploy already exists."
    )
    long = env.run(iam.create_role(ACCOUNT, "long", TRUST, max_session_duration=43200))
    assert long.max_session_duration == 43200
    for duration in (3599, 43201):
        env.fails(
            IamValidationError,
            iam.create_role(ACCOUNT, "bad", TRUST, max_session_duration=duration),
        )
    env.fails(IamValidationError, iam.create_role(ACCOUNT, "bad", TRUST, description="x" * 1001))
    assert names(env.run(iam.list_roles(ACCOUNT))) == ["Deploy", "long"]
    assert names(env.run(iam.list_roles(ACCOUNT, path_prefix="/ci/"))) == ["Deploy"]

    # Trust policies: validated as such, 2048 characters at most.
    other_trust = TRUST.replace(ROOT, f"arn:aws:iam::{OTHER}:root")
    env.run(iam.update_assume_role_policy(ACCOUNT, "DEPLOY", other_trust))
    assert env.run(iam.require_role(ACCOUNT, "deploy")).trust_policy == other_trust
    env.fails(MalformedPolicyDocument, iam.update_assume_role_policy(ACCOUNT, "deploy", "[]"))
    env.fails(NoSuchEntity, iam.update_assume_role_policy(ACCOUNT, "nope", TRUST))
    statement = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}
    huge = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{**statement, "Sid": f"S{i}"} for i in range(40)],
        }
    )
    assert policy_size(huge) > 2048
    assert env.fails(LimitExceeded, iam.update_assume_role_policy(ACCOUNT, "deploy", huge)) == (
        "Cannot exceed quota for ACLSizePerRole: 2048"
    )


def test_role_policies_and_delete_role(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_role(ACCOUNT, "deploy", TRUST))
    env.run(iam.put_role_policy(ACCOUNT, "deploy", "push", document("ecr:PutImage")))
    assert env.run(iam.get_role_policy(ACCOUNT, "deploy", "push")).document == document(
        "ecr:PutImage"
    )
    assert names(env.run(iam.list_role_policies(ACCOUNT, "deploy"))) == ["push"]
    policy = env.run(iam.create_policy(ACCOUNT, "EcrRead", document()))
    env.run(iam.attach_role_policy(ACCOUNT, "deploy", policy.arn))
    assert names(env.run(iam.list_attached_role_policies(ACCOUNT, "deploy"))) == ["EcrRead"]

    def conflict() -> str:
        return env.fails(DeleteConflict, iam.delete_role(ACCOUNT, "deploy"))

    assert conflict() == "Cannot delete entity, must delete policies first."
    env.run(iam.delete_role_policy(ACCOUNT, "deploy", "push"))
    assert env.fails(NoSuchEntity, iam.delete_role_policy(ACCOUNT, "deploy", "push")) == (
        "The role policy with name push cannot be found."
    )
    assert conflict() == "Cannot delete entity, must detach all policies first."
    env.run(iam.detach_role_policy(ACCOUNT, "deploy", policy.arn))
    env.run(iam.delete_role(ACCOUNT, "deploy"))
    assert env.fails(NoSuchEntity, iam.delete_role(ACCOUNT, "deploy")) == (
        "The role with name deploy cannot be found."
    )
    env.fails(NoSuchEntity, iam.get_role_policy(ACCOUNT, "deploy", "push"))


# for authorization


def test_identity_of_users_roles_sessions_and_root(env: Env) -> None:
    iam = env.iam
    bob = env.run(iam.create_user(ACCOUNT, "bob", path="/team/"))
    env.run(iam.put_user_policy(ACCOUNT, "bob", "own", document("ecr:Own")))
    attached = env.run(iam.create_policy(ACCOUNT, "Attached", document("ecr:Attached")))
    env.run(iam.attach_user_policy(ACCOUNT, "bob", attached.arn))
    env.run(iam.create_group(ACCOUNT, "devs"))
    env.run(iam.put_group_policy(ACCOUNT, "devs", "group", document("ecr:Group")))
    group_attached = env.run(iam.create_policy(ACCOUNT, "GroupAttached", document("ecr:GA")))
    env.run(iam.attach_group_policy(ACCOUNT, "devs", group_attached.arn))
    env.run(iam.add_user_to_group(ACCOUNT, "devs", "bob"))
    # A group bob is not in does not count.
    env.run(iam.create_group(ACCOUNT, "ops"))
    env.run(iam.put_group_policy(ACCOUNT, "ops", "ops", document("ecr:Ops")))

    identity = env.run(iam.identity(bob.arn))
    assert identity is not None
    assert identity.userid == bob.user_id
    assert sorted(identity.policies) == sorted(
        [document("ecr:Own"), document("ecr:Attached"), document("ecr:Group"), document("ecr:GA")]
    )
    # The ARN must be the user's own: another path is another (missing) user.
    assert env.run(iam.identity(f"arn:aws:iam::{ACCOUNT}:user/bob")) is None
    assert env.run(iam.identity(f"arn:aws:iam::{OTHER}:user/team/bob")) is None

    role = env.run(iam.create_role(ACCOUNT, "Deploy", TRUST, path="/ci/"))
    env.run(iam.put_role_policy(ACCOUNT, "deploy", "push", document("ecr:PutImage")))
    env.run(iam.attach_role_policy(ACCOUNT, "deploy", attached.arn))
    expected = sorted([document("ecr:PutImage"), document("ecr:Attached")])
    for_role = env.run(iam.identity(role.arn))
    assert for_role is not None
    assert (for_role.userid, sorted(for_role.policies)) == (role.role_id, expected)
    session = env.run(iam.identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/Deploy/ci-run-7"))
    assert session is not None
    assert (session.userid, sorted(session.policies)) == (f"{role.role_id}:ci-run-7", expected)

    assert env.run(iam.identity(ROOT)) == Identity(userid=ACCOUNT, policies=[])
    empty = env.run(iam.create_user(ACCOUNT, "empty"))
    assert env.run(iam.identity(empty.arn)) == Identity(empty.user_id, [])
    for unknown in (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/nope/s",
        f"arn:aws:iam::{ACCOUNT}:role/nope",
        f"arn:aws:iam::{ACCOUNT}:group/devs",
        f"arn:aws:iam::{ACCOUNT}:policy/Attached",
        "arn:aws:ecr:us-east-1:123456789012:repository/x",
        "*",
    ):
        assert env.run(iam.identity(unknown)) is None, unknown

    # Policies taken away no longer apply.
    env.run(iam.remove_user_from_group(ACCOUNT, "devs", "bob"))
    env.run(iam.detach_user_policy(ACCOUNT, "bob", attached.arn))
    after = env.run(iam.identity(bob.arn))
    assert after is not None and after.policies == [document("ecr:Own")]


def test_resource_arns_for_authorization(env: Env) -> None:
    iam = env.iam
    env.run(iam.create_user(ACCOUNT, "Bob", path="/team/"))
    assert env.run(iam.resource_arn(ACCOUNT, "user", "bob")) == (
        f"arn:aws:iam::{ACCOUNT}:user/team/Bob"
    )
    assert env.run(iam.resource_arn(ACCOUNT, "user", "carol")) == (
        f"arn:aws:iam::{ACCOUNT}:user/carol"
    )
    assert env.run(iam.resource_arn(ACCOUNT, "group", "devs")) == (
        f"arn:aws:iam::{ACCOUNT}:group/devs"
    )
    env.run(iam.create_role(ACCOUNT, "deploy", TRUST, path="/ci/"))
    assert env.run(iam.resource_arn(ACCOUNT, "role", "deploy")) == (
        f"arn:aws:iam::{ACCOUNT}:role/ci/deploy"
    )


def test_concurrent_key_creation_keeps_the_quota(env: Env) -> None:
    """On PostgreSQL the writers run in parallel; the user's row lock makes them take turns."""
    env.run(env.iam.create_user(ACCOUNT, "bob"))

    async def race() -> list[object]:
        return await asyncio.gather(
            *(env.iam.create_access_key(ACCOUNT, "bob", caller_arn=ROOT) for _ in range(8)),
            return_exceptions=True,
        )

    results = env.run(race())
    assert sum(isinstance(result, LimitExceeded) for result in results) == 6
    assert len(env.run(env.iam.list_access_keys(ACCOUNT, "bob", caller_arn=ROOT)).items) == 2
