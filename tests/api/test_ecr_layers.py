"""ECR's layer-upload operations (the API ECR's own /v2/ proxy is built on) through boto3."""

from __future__ import annotations

import os

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import push_blob, sha256
from tests.conftest import RunningRegistry

NAME = "layers/app"
MIB = 1024 * 1024


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def upload_parts(registry: RunningRegistry, parts: list[bytes]) -> str:
    upload = registry.ecr.initiate_layer_upload(repositoryName=NAME)
    assert upload["partSize"] >= 5 * MIB
    offset = 0
    for part in parts:
        response = registry.ecr.upload_layer_part(
            repositoryName=NAME,
            uploadId=upload["uploadId"],
            partFirstByte=offset,
            partLastByte=offset + len(part) - 1,
            layerPartBlob=part,
        )
        offset += len(part)
        assert response["lastByteReceived"] == offset - 1
    return str(upload["uploadId"])


def test_upload_in_parts_then_pull(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    parts = [os.urandom(5 * MIB), os.urandom(123)]
    data = b"".join(parts)
    upload_id = upload_parts(registry, parts)
    done = registry.ecr.complete_layer_upload(
        repositoryName=NAME, uploadId=upload_id, layerDigests=[sha256(data)]
    )
    assert done["layerDigest"] == sha256(data)
    check = registry.ecr.batch_check_layer_availability(
        repositoryName=NAME, layerDigests=[sha256(data), sha256(b"absent"), "sha256:bad"]
    )
    assert check["layers"] == [
        {"layerDigest": sha256(data), "layerAvailability": "AVAILABLE", "layerSize": len(data)}
    ]
    assert sorted(f["failureCode"] for f in check["failures"]) == [
        "InvalidLayerDigest",
        "MissingLayerDigest",
    ]
    url = registry.ecr.get_download_url_for_layer(repositoryName=NAME, layerDigest=sha256(data))
    assert httpx.get(url["downloadUrl"], auth=("AWS", registry.password)).content == data
    with pytest.raises(ClientError) as exc:
        registry.ecr.complete_layer_upload(
            repositoryName=NAME, uploadId=upload_id, layerDigests=[sha256(data)]
        )
    assert code_of(exc) == "UploadNotFoundException"


def test_part_rules(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    small = upload_parts(registry, [b"a" * 1000, b"b" * 1000])
    with pytest.raises(ClientError) as exc:
        registry.ecr.complete_layer_upload(
            repositoryName=NAME, uploadId=small, layerDigests=[sha256(b"a" * 1000 + b"b" * 1000)]
        )
    assert code_of(exc) == "LayerPartTooSmallException"

    upload = registry.ecr.initiate_layer_upload(repositoryName=NAME)["uploadId"]
    with pytest.raises(ClientError) as exc:
        registry.ecr.complete_layer_upload(
            repositoryName=NAME, uploadId=upload, layerDigests=[sha256(b"")]
        )
    assert code_of(exc) == "EmptyUploadException"
    registry.ecr.upload_layer_part(
        repositoryName=NAME, uploadId=upload, partFirstByte=0, partLastByte=2,
        layerPartBlob=b"abc",
    )  # fmt: skip
    with pytest.raises(ClientError) as exc:
        registry.ecr.upload_layer_part(
            repositoryName=NAME, uploadId=upload, partFirstByte=10, partLastByte=12,
            layerPartBlob=b"def",
        )  # fmt: skip
    assert code_of(exc) == "InvalidLayerPartException"
    assert exc.value.response["lastValidByteReceived"] == 2
    with pytest.raises(ClientError) as exc:
        registry.ecr.complete_layer_upload(
            repositoryName=NAME, uploadId=upload, layerDigests=[sha256(b"xyz")]
        )
    assert code_of(exc) == "InvalidLayerException"


def test_layer_already_exists(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    push_blob(registry.client, NAME, b"known")
    upload = upload_parts(registry, [b"known"])
    with pytest.raises(ClientError) as exc:
        registry.ecr.complete_layer_upload(
            repositoryName=NAME, uploadId=upload, layerDigests=[sha256(b"known")]
        )
    assert code_of(exc) == "LayerAlreadyExistsException"


def test_download_url_of_an_unknown_layer(registry: RunningRegistry) -> None:
    registry.ecr.create_repository(repositoryName=NAME)
    with pytest.raises(ClientError) as exc:
        registry.ecr.get_download_url_for_layer(repositoryName=NAME, layerDigest=sha256(b"x"))
    assert code_of(exc) == "LayersNotFoundException"
