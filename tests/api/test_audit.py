"""The audit trail through CloudTrail's LookupEvents: every lookup attribute, time ranges,
pagination, the guide's section 7.2 command verbatim, and no secret anywhere in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import push_image
from tests.conftest import REGION, ROOT_KEY_ID, ROOT_SECRET, RunningRegistry, iam_client

AWS = str(Path(sys.executable).with_name("aws"))


def cloudtrail(registry: RunningRegistry, **credentials: str) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=registry.url,
        region_name=REGION,
        aws_access_key_id=credentials.get("key_id", ROOT_KEY_ID),
        aws_secret_access_key=credentials.get("secret", ROOT_SECRET),
    )


def lookup(registry: RunningRegistry, key: str, value: str, **extra: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cloudtrail(registry).lookup_events(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], **extra
    )["Events"]
    return found


@pytest.fixture
def activity(registry: RunningRegistry) -> dict[str, str]:
    """A session worth auditing: repository, push, pull, a denied call, a failed call."""
    registry.ecr.create_repository(repositoryName="audit/app")
    digest, _ = push_image(registry.client, "audit/app", "v1")
    assert registry.client.get("/v2/audit/app/manifests/v1").status_code == 200
    registry.ecr.describe_images(repositoryName="audit/app")
    with pytest.raises(ClientError):
        registry.ecr.describe_images(repositoryName="audit/missing")
    registry.ecr.get_authorization_token()
    return {"digest": digest}


def test_every_lookup_attribute(registry: RunningRegistry, activity: dict[str, str]) -> None:
    by_source = lookup(registry, "EventSource", "ecr.amazonaws.com")
    names = [e["EventName"] for e in by_source]
    # Newest first, the registry requests recorded as the ECR calls they stand for.
    for name in ("CreateRepository", "PutImage", "BatchGetImage", "DescribeImages"):
        assert name in names, names
    assert names.index("DescribeImages") < names.index("PutImage")

    put = lookup(registry, "EventName", "PutImage")[0]
    record = json.loads(put["CloudTrailEvent"])
    assert record["eventSource"] == "ecr.amazonaws.com"
    assert record["userIdentity"]["type"] == "Root"
    assert record["userIdentity"]["accessKeyId"] == ROOT_KEY_ID
    assert record["requestParameters"]["repositoryName"] == "audit/app"
    assert record["readOnly"] is False and put["ReadOnly"] == "false"
    arn = "arn:aws:ecr:us-east-1:000000000000:repository/audit/app"
    assert put["Resources"] == [{"ResourceType": "AWS::ECR::Repository", "ResourceName": arn}]

    assert lookup(registry, "EventId", put["EventId"]) == [put]
    read_only = lookup(registry, "ReadOnly", "true")
    assert read_only and all(e["ReadOnly"] == "true" for e in read_only)
    assert {e["Username"] for e in lookup(registry, "Username", "root")} == {"root"}
    assert lookup(registry, "AccessKeyId", ROOT_KEY_ID)
    assert lookup(registry, "AccessKeyId", "AKIANOBODY0000000000") == []
    for name in (arn, "audit/app"):
        assert {e["EventName"] for e in lookup(registry, "ResourceName", name)} >= {
            "CreateRepository",
            "PutImage",
        }
    assert lookup(registry, "ResourceType", "AWS::ECR::Repository")
    failed = lookup(registry, "ResourceName", "audit/missing")
    assert json.loads(failed[0]["CloudTrailEvent"])["errorCode"] == "RepositoryNotFoundException"


def test_time_ranges_and_pages(registry: RunningRegistry, activity: dict[str, str]) -> None:
    client = cloudtrail(registry)
    now = datetime.now(UTC)
    everything = client.lookup_events(MaxResults=50)["Events"]
    assert len(everything) >= 6
    assert client.lookup_events(EndTime=now - timedelta(hours=1))["Events"] == []
    assert len(client.lookup_events(StartTime=now - timedelta(hours=1))["Events"]) == len(
        everything
    )
    pages: list[str] = []
    token = None
    while True:
        page = client.lookup_events(MaxResults=2, **({"NextToken": token} if token else {}))
        pages.extend(e["EventId"] for e in page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [e["EventId"] for e in everything]
    for bad, code in [
        ({"StartTime": now, "EndTime": now - timedelta(days=1)}, "InvalidTimeRangeException"),
        ({"NextToken": "garbage"}, "InvalidNextTokenException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "a"},
                    {"AttributeKey": "Username", "AttributeValue": "b"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
    ]:
        with pytest.raises(ClientError) as exc:
            client.lookup_events(**bad)
        assert exc.value.response["Error"]["Code"] == code


def test_the_guides_cloudtrail_command(
    registry: RunningRegistry, activity: dict[str, str], tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": registry.url,
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    # Section 7.2, verbatim.
    command = (
        "aws cloudtrail lookup-events --lookup-attributes "
        "AttributeKey=EventSource,AttributeValue=ecr.amazonaws.com"
    )
    result = subprocess.run(
        [AWS, *command.split()[1:]], capture_output=True, env=env, timeout=60, check=True
    )
    events = json.loads(result.stdout)["Events"]
    assert "PutImage" in {e["EventName"] for e in events}


def test_no_secret_is_ever_recorded(registry: RunningRegistry, activity: dict[str, str]) -> None:
    iam = iam_client(registry.url)
    iam.create_user(UserName="auditor")
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    token = registry.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    everything = json.dumps(
        cloudtrail(registry).lookup_events(MaxResults=50)["Events"], default=str
    )
    assert "CreateAccessKey" in everything  # the call is there...
    for secret in (ROOT_SECRET, key["SecretAccessKey"], token, registry.password):
        assert secret not in everything  # ...its secrets are not


def test_only_pulls_keep_their_serialised_record(registry: RunningRegistry) -> None:
    """Pull records repeat and are serialised once, and so do blob uploads (their records name
    the repository only); a record naming a pushed tag or digest is a new one, and kept
    templates of them only held memory (thousands of tags pushed: megabytes per process)."""
    from berth.api.audit import _cached_registry_template

    registry.ecr.create_repository(repositoryName="audit/cache")
    _cached_registry_template.cache_clear()
    push_image(registry.client, "audit/cache", "v1")
    lookup(registry, "ResourceName", "audit/cache")  # a lookup flushes what is queued
    after_one = _cached_registry_template.cache_info().currsize
    assert after_one == 1  # the blobs' CompleteLayerUpload
    push_image(registry.client, "audit/cache", "v2", seed=b"another image")
    lookup(registry, "ResourceName", "audit/cache")
    assert _cached_registry_template.cache_info().currsize == after_one
    _cached_registry_template.cache_clear()
    for _ in range(3):
        assert registry.client.get("/v2/audit/cache/manifests/v1").status_code == 200
    names = [e["EventName"] for e in lookup(registry, "ResourceName", "audit/cache")]
    assert names.count("BatchGetImage") == 3 and names.count("PutImage") == 2
    assert names.count("CompleteLayerUpload") == 6
    info = _cached_registry_template.cache_info()
    assert (info.currsize, info.hits) == (1, 2)
