"""ECR image operations and registry logins, and how they meet the OCI API."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import OCI_MANIFEST, image_manifest, push_blob, push_image, sha256
from tests.conftest import RunningRegistry

NAME = "team/app"


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_get_authorization_token(registry: RunningRegistry) -> None:
    data = registry.ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    user, password = base64.b64decode(data[0]["authorizationToken"]).decode().split(":", 1)
    assert user == "AWS"
    assert data[0]["proxyEndpoint"] == registry.url
    lifetime = data[0]["expiresAt"] - datetime.now(UTC)
    assert timedelta(hours=11, minutes=59) < lifetime <= timedelta(hours=12)
    assert httpx.get(f"{registry.url}/v2/", auth=("AWS", password)).status_code == 200


def test_registry_requires_the_login(registry: RunningRegistry) -> None:
    anonymous = httpx.get(f"{registry.url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.text == "Not Authorized"
    assert anonymous.headers["Www-Authenticate"] == (
        f'Basic realm="{registry.url}/",service="ecr.amazonaws.com"'
    )
    assert httpx.get(f"{registry.url}/v2/", auth=("AWS", "forged")).status_code == 401
    assert httpx.get(f"{registry.url}/v2/", auth=("root", registry.password)).status_code == 401


def test_tampered_token_is_refused(registry: RunningRegistry) -> None:
    head, claims, mac = registry.password.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload[1] = "111111111111"  # another account
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    # The MAC's first character changed: its last may only carry padding bits, and replacing
    # the last two with "AA" left 1 token in 1,024 as it was.
    tampered = ("B" if mac[0] == "A" else "A") + mac[1:]
    for password in (f"{head}.{forged}.{mac}", f"{head}.{claims}.{tampered}"):
        assert httpx.get(f"{registry.url}/v2/", auth=("AWS", password)).status_code == 401


def test_image_pushed_with_oci_is_described_by_ecr(registry: RunningRegistry) -> None:
    digest, manifest = push_image(registry.client, NAME, "v1")
    push_image(registry.client, NAME, "v2", seed=b"other")
    registry.client.delete(f"/v2/{NAME}/manifests/v2")  # leaves an untagged image
    ids = registry.ecr.list_images(repositoryName=NAME)["imageIds"]
    assert {"imageDigest": digest, "imageTag": "v1"} in ids
    assert len(ids) == 2
    untagged = registry.ecr.list_images(repositoryName=NAME, filter={"tagStatus": "UNTAGGED"})
    assert len(untagged["imageIds"]) == 1 and "imageTag" not in untagged["imageIds"][0]
    details = registry.ecr.describe_images(repositoryName=NAME, imageIds=[{"imageTag": "v1"}])[
        "imageDetails"
    ]
    layers = json.loads(manifest)["layers"]
    assert details[0]["imageDigest"] == digest
    assert details[0]["imageTags"] == ["v1"]
    assert details[0]["imageSizeInBytes"] == sum(layer["size"] for layer in layers)
    assert details[0]["imageManifestMediaType"] == OCI_MANIFEST
    assert details[0]["artifactMediaType"] == "application/vnd.oci.image.config.v1+json"
    with pytest.raises(ClientError) as exc:
        registry.ecr.describe_images(repositoryName=NAME, imageIds=[{"imageTag": "nope"}])
    assert code_of(exc) == "ImageNotFoundException"


def test_put_image_then_pull_with_oci(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = image_manifest(config, [layer])
    image = registry.ecr.put_image(
        repositoryName=NAME, imageManifest=manifest.decode(), imageTag="ecr"
    )["image"]
    assert image["imageId"] == {"imageDigest": sha256(manifest), "imageTag": "ecr"}
    pulled = registry.client.get(f"/v2/{NAME}/manifests/ecr")
    assert pulled.content == manifest
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image(repositoryName=NAME, imageManifest=manifest.decode(), imageTag="ecr")
    assert code_of(exc) == "ImageAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image(
            repositoryName=NAME, imageManifest=manifest.decode(), imageDigest=sha256(b"x")
        )
    assert code_of(exc) == "ImageDigestDoesNotMatchException"
    missing = image_manifest(config, [b"never pushed"])
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image(repositoryName=NAME, imageManifest=missing.decode(), imageTag="m")
    assert code_of(exc) == "LayersNotFoundException"


def test_put_image_of_an_index_with_missing_children(registry: RunningRegistry) -> None:
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(b"absent"), "size": 6}],
    }
    registry.ecr.create_repository(repositoryName=NAME)
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image(repositoryName=NAME, imageManifest=json.dumps(index), imageTag="i")
    assert code_of(exc) == "ReferencedImagesNotFoundException"


def test_batch_get_image(registry: RunningRegistry) -> None:
    digest, manifest = push_image(registry.client, NAME, "v1")
    response = registry.ecr.batch_get_image(
        repositoryName=NAME,
        imageIds=[{"imageTag": "v1"}, {"imageTag": "missing"}, {"imageDigest": "sha256:bad"}],
    )
    assert [i["imageManifest"] for i in response["images"]] == [manifest.decode()]
    assert response["images"][0]["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    codes = sorted(f["failureCode"] for f in response["failures"])
    assert codes == ["ImageNotFound", "InvalidImageDigest"]
    refused = registry.ecr.batch_get_image(
        repositoryName=NAME,
        imageIds=[{"imageTag": "v1"}],
        acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"],
    )
    assert refused["images"] == []
    assert len(refused["failures"]) == 1


def test_batch_delete_image(registry: RunningRegistry) -> None:
    digest, _ = push_image(registry.client, NAME, "v1")
    registry.client.put(
        f"/v2/{NAME}/manifests/also",
        content=registry.client.get(f"/v2/{NAME}/manifests/v1").content,
        headers={"Content-Type": OCI_MANIFEST},
    )
    first = registry.ecr.batch_delete_image(repositoryName=NAME, imageIds=[{"imageTag": "v1"}])
    assert first["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]
    assert registry.client.get(f"/v2/{NAME}/manifests/{digest}").status_code == 200
    # Deleting the last tag deletes the image.
    registry.ecr.batch_delete_image(repositoryName=NAME, imageIds=[{"imageTag": "also"}])
    assert registry.client.get(f"/v2/{NAME}/manifests/{digest}").status_code == 404
    gone = registry.ecr.batch_delete_image(repositoryName=NAME, imageIds=[{"imageDigest": digest}])
    assert gone["failures"][0]["failureCode"] == "ImageNotFound"


def test_tag_immutability_on_both_apis(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName="locked", imageTagMutability="IMMUTABLE")
    first, _ = push_image(registry.client, "locked", "v1", seed=b"1")
    config, layer = b'{"seed":"2"}', b"other layer"
    push_blob(registry.client, "locked", config)
    push_blob(registry.client, "locked", layer)
    moved = image_manifest(config, [layer])
    refused = registry.client.put(
        "/v2/locked/manifests/v1", content=moved, headers={"Content-Type": OCI_MANIFEST}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {
        "code": "TAG_INVALID",
        "message": "The image tag 'v1' already exists in the 'locked' repository and cannot be "
        "overwritten because the tag is immutable.",
        "detail": {"tag": "v1"},
    }
    with pytest.raises(ClientError) as exc:
        registry.ecr.put_image(repositoryName="locked", imageManifest=moved.decode(), imageTag="v1")
    assert code_of(exc) == "ImageTagAlreadyExistsException"
    assert registry.client.head("/v2/locked/manifests/v1").headers["Docker-Content-Digest"] == first
    # Re-pushing the same image under the same tag is not a change.
    same = registry.client.get("/v2/locked/manifests/v1").content
    again = registry.client.put(
        "/v2/locked/manifests/v1", content=same, headers={"Content-Type": OCI_MANIFEST}
    )
    assert again.status_code == 201
    registry.ecr.put_image_tag_mutability(
        repositoryName="locked",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "v*"}],
    )
    moved_ok = registry.client.put(
        "/v2/locked/manifests/v1", content=moved, headers={"Content-Type": OCI_MANIFEST}
    )
    assert moved_ok.status_code == 201


def test_pulls_set_last_recorded_pull_time(registry: RunningRegistry) -> None:
    digest, _ = push_image(registry.client, NAME, "v1")

    def pulled_at() -> datetime | None:
        detail = registry.ecr.describe_images(repositoryName=NAME)["imageDetails"][0]
        return detail.get("lastRecordedPullTime")

    registry.client.head(f"/v2/{NAME}/manifests/v1")
    time.sleep(0.3)
    assert pulled_at() is None  # a HEAD is not a pull
    before = datetime.now(UTC) - timedelta(seconds=1)
    registry.client.get(f"/v2/{NAME}/manifests/{digest}")
    deadline = time.monotonic() + 5
    while pulled_at() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    recorded = pulled_at()
    assert recorded is not None and recorded >= before
