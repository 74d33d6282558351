"""Lifecycle previews through boto3 and enforcement through `berth lifecycle run`, on a real
server: both must name exactly the images the pure evaluator names."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from berth import cli
from tests.api.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    image_manifest,
    push_blob,
    push_image,
    sha256,
)
from tests.api.lifecycle_helpers import age_image
from tests.conftest import ROOT_KEY_ID, ROOT_SECRET, RunningRegistry

NAME = "lifecycle/app"


def rule(priority: int, tag_status: str, count_type: str, number: int, **extra: Any) -> dict:
    selection: dict[str, Any] = {
        "tagStatus": tag_status,
        "countType": count_type,
        "countNumber": number,
        **extra,
    }
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)}, indent=2)


# The guide's section 3.2 policy, verbatim.
GUIDE_POLICY = """{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep last 30 days images",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 30
            },
            "action": {
                "type": "expire"
            }
        }
    ]
}"""


def push(registry: RunningRegistry, tag: str, seed: str, days_ago: float) -> str:
    digest, _ = push_image(registry.client, NAME, tag, seed=seed.encode())
    age_image(registry.settings.sqlalchemy_url, NAME, digest, days_ago)
    return digest


def push_untagged(registry: RunningRegistry, seed: str, days_ago: float) -> str:
    config = b'{"seed":"' + seed.encode() + b'"}'
    layer = b"layer-" + seed.encode()
    for blob in (config, layer):
        push_blob(registry.client, NAME, blob)
    manifest = image_manifest(config, [layer])
    digest = sha256(manifest)
    response = registry.client.put(
        f"/v2/{NAME}/manifests/{digest}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert response.status_code == 201, response.text
    age_image(registry.settings.sqlalchemy_url, NAME, digest, days_ago)
    return digest


def untag(registry: RunningRegistry, tag: str) -> None:
    registry.ecr.batch_delete_image(repositoryName=NAME, imageIds=[{"imageTag": tag}])


def images(registry: RunningRegistry) -> dict[str, list[str]]:
    found = registry.ecr.describe_images(repositoryName=NAME)["imageDetails"]
    return {d["imageDigest"]: sorted(d.get("imageTags", [])) for d in found}


def run_cli(registry: RunningRegistry, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    settings = registry.settings
    code = cli.main(
        [
            "lifecycle",
            "run",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.sqlalchemy_url,
            *flags,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def preview(registry: RunningRegistry, text: str | None = None, **filters: Any) -> dict:
    args = {"lifecyclePolicyText": text} if text else {}
    started = registry.ecr.start_lifecycle_policy_preview(repositoryName=NAME, **args)
    assert started["status"] in ("IN_PROGRESS", "COMPLETE")
    registry.ecr.get_waiter("lifecycle_policy_preview_complete").wait(
        repositoryName=NAME, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    result: dict = registry.ecr.get_lifecycle_policy_preview(repositoryName=NAME, **filters)
    assert result["status"] == "COMPLETE"
    return result


def images_manifest(registry: RunningRegistry, digest: str) -> str:
    got = registry.ecr.batch_get_image(repositoryName=NAME, imageIds=[{"imageDigest": digest}])
    return str(got["images"][0]["imageManifest"])


def test_guide_policy_preview_and_enforcement_agree(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    old_untagged = push(registry, "v1", "old", 0)
    push(registry, "v1", "new", 0)  # moves v1: the old image is now untagged
    age_image(registry.settings.sqlalchemy_url, NAME, old_untagged, 31)
    young_untagged = push(registry, "v2", "young", 0)
    push(registry, "v2", "newer", 0)
    old_tagged = push(registry, "v0", "tagged", 90)
    registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=GUIDE_POLICY)

    result = preview(registry)
    assert result["lifecyclePolicyText"] == GUIDE_POLICY
    assert [(r["imageDigest"], r["appliedRulePriority"]) for r in result["previewResults"]] == [
        (old_untagged, 1)
    ]
    assert result["previewResults"][0]["action"] == {"type": "EXPIRE"}
    assert result["previewResults"][0]["imageTags"] == []
    assert result["summary"] == {"expiringImageTotalCount": 1}

    dry = run_cli(registry, capsys, "--dry-run")
    assert f"would expire {NAME}@{old_untagged} <untagged>" in dry
    assert old_untagged in images(registry)

    out = run_cli(registry, capsys)
    assert f"expired {NAME}@{old_untagged} <untagged>" in out
    assert f"{NAME}: 1 of 5 images expired" in out
    left = images(registry)
    assert old_untagged not in left
    assert young_untagged in left and old_tagged in left
    assert len(left) == 4
    assert "lastEvaluatedAt" in registry.ecr.get_lifecycle_policy(repositoryName=NAME)
    # The run is in the audit trail as ECR's CloudTrail PolicyExecutionEvent.
    trail = boto3.client(
        "cloudtrail",
        endpoint_url=registry.url,
        region_name="us-east-1",
        aws_access_key_id=ROOT_KEY_ID,
        aws_secret_access_key=ROOT_SECRET,
    )
    found = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PolicyExecutionEvent"}]
    )["Events"]
    record = json.loads(found[0]["CloudTrailEvent"])
    assert record["eventType"] == "AwsServiceEvent"
    details = record["serviceEventDetails"]
    assert details["repositoryName"] == NAME
    assert details["lifecycleEventPolicy"]["lifecycleEventRules"][0]["rulePriority"] == 1
    actions = details["lifecycleEventImageActions"]
    assert [a["lifecycleEventImage"]["digest"] for a in actions] == [old_untagged]
    assert actions[0]["lifecycleEventImage"]["tagStatus"] == "UNTAGGED"
    # Nothing left to expire: a second run is a no-op.
    assert f"{NAME}: 0 of 4 images expired" in run_cli(registry, capsys)


def test_all_images_b_through_the_api(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """AWS's "All images B" worked example with real images: A, B and D expire."""
    registry.ecr.create_repository(repositoryName=NAME)
    seeds = {}
    for label, tags, days in [
        ("A", ["alpha-1", "beta-1"], 4),
        ("B", [], 3),
        ("C", ["alpha-2"], 2),
        ("D", ["git-hash"], 1),
        ("E", [], 0.5),
    ]:
        if not tags:
            seeds[label] = push_untagged(registry, label, days)
            continue
        digest = push(registry, tags[0], label, days)
        for extra in tags[1:]:
            registry.ecr.put_image(
                repositoryName=NAME,
                imageManifest=images_manifest(registry, digest),
                imageTag=extra,
            )
        seeds[label] = digest
    assert len(images(registry)) == 5

    text = policy(
        rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["alpha*"]),
        rule(2, "untagged", "sinceImagePushed", 1),
        rule(3, "any", "imageCountMoreThan", 1),
    )
    registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=text)
    result = preview(registry)
    expected = {seeds["A"]: 1, seeds["B"]: 2, seeds["D"]: 3}
    assert {r["imageDigest"]: r["appliedRulePriority"] for r in result["previewResults"]} == (
        expected
    )
    out = run_cli(registry, capsys)
    assert set(images(registry)) == {seeds["C"], seeds["E"]}
    for digest in expected:
        assert digest in out


def test_preview_filters_and_pages(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    digests = [push_untagged(registry, f"s{i}", 10 - i) for i in range(2)]
    digests += [push(registry, f"v{i}", f"s{i}", 10 - i) for i in range(2, 7)]
    text = policy(rule(1, "any", "imageCountMoreThan", 2))
    everything = preview(registry, text)
    expiring = sorted(digests[:5])
    assert sorted(r["imageDigest"] for r in everything["previewResults"]) == expiring
    assert everything["summary"] == {"expiringImageTotalCount": 5}
    # The stored policy is untouched by a preview of another text.
    with pytest.raises(ClientError) as exc:
        registry.ecr.get_lifecycle_policy(repositoryName=NAME)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"

    pages, token = [], None
    while True:
        args = {"maxResults": 2, **({"nextToken": token} if token else {})}
        page = registry.ecr.get_lifecycle_policy_preview(repositoryName=NAME, **args)
        pages.append([r["imageDigest"] for r in page["previewResults"]])
        token = page.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [d for p in pages for d in p] == expiring

    untagged = registry.ecr.get_lifecycle_policy_preview(
        repositoryName=NAME, filter={"tagStatus": "UNTAGGED"}
    )
    assert sorted(r["imageDigest"] for r in untagged["previewResults"]) == sorted(digests[:2])
    tagged = registry.ecr.get_lifecycle_policy_preview(
        repositoryName=NAME, filter={"tagStatus": "TAGGED"}
    )
    assert sorted(r["imageDigest"] for r in tagged["previewResults"]) == sorted(digests[2:5])
    one = registry.ecr.get_lifecycle_policy_preview(
        repositoryName=NAME, imageIds=[{"imageTag": "v3"}]
    )
    assert [r["imageDigest"] for r in one["previewResults"]] == [digests[3]]
    assert one["previewResults"][0]["imageTags"] == ["v3"]


def test_preview_errors(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    with pytest.raises(ClientError) as exc:
        registry.ecr.get_lifecycle_policy_preview(repositoryName=NAME)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyPreviewNotFoundException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.start_lifecycle_policy_preview(repositoryName=NAME)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.start_lifecycle_policy_preview(
            repositoryName=NAME, lifecyclePolicyText='{"rules": []}' + " " * 100
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.start_lifecycle_policy_preview(
            repositoryName="missing", lifecyclePolicyText=GUIDE_POLICY
        )
    assert exc.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    # A preview of an empty repository completes with nothing to expire.
    result = preview(registry, GUIDE_POLICY)
    assert result["previewResults"] == []
    assert result["summary"] == {"expiringImageTotalCount": 0}


def test_expiry_takes_referrers_and_index_children_along(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    amd, amd_manifest = push_image(registry.client, NAME, "amd-tmp", seed=b"amd")
    arm, arm_manifest = push_image(registry.client, NAME, "arm-tmp", seed=b"arm")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(
                    OCI_MANIFEST, amd_manifest, platform={"os": "linux", "architecture": "amd64"}
                ),
                descriptor(
                    OCI_MANIFEST, arm_manifest, platform={"os": "linux", "architecture": "arm64"}
                ),
            ],
        }
    ).encode()
    put = registry.client.put(
        f"/v2/{NAME}/manifests/multi", content=index, headers={"Content-Type": OCI_INDEX}
    )
    assert put.status_code == 201
    index_digest = put.headers["Docker-Content-Digest"]
    for tag in ("amd-tmp", "arm-tmp"):
        registry.client.delete(f"/v2/{NAME}/manifests/{tag}")
    # A signature of the index, pushed as a referrer.
    empty = push_blob(registry.client, NAME, b"{}")
    assert empty
    signature = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": empty,
                "size": 2,
            },
            "layers": [
                {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}
            ],
            "subject": descriptor(OCI_INDEX, index),
        }
    ).encode()
    sig = registry.client.put(
        f"/v2/{NAME}/manifests/{sha256(signature)}",
        content=signature,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert sig.status_code == 201, sig.text
    keeper = push(registry, "keep", "keep", 0)
    age_image(registry.settings.sqlalchemy_url, NAME, index_digest, 5)

    text = policy(rule(1, "tagged", "sinceImagePushed", 2, tagPatternList=["multi"]))
    registry.ecr.put_lifecycle_policy(repositoryName=NAME, lifecyclePolicyText=text)
    result = preview(registry)
    # The index's images and the signature are judged with the index, not on their own.
    assert [r["imageDigest"] for r in result["previewResults"]] == [index_digest]
    out = run_cli(registry, capsys)
    assert "(with 3 dependents)" in out
    assert set(images(registry)) == {keeper}
    for digest in (amd, arm, index_digest):
        assert registry.client.get(f"/v2/{NAME}/manifests/{digest}").status_code == 404
