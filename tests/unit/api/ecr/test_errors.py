"""The ECR error table and the error body botocore parses."""

from __future__ import annotations

import inspect
import json
import logging

import pytest

from berth import errors
from berth.api.awsjson import errors as awsjson_errors
from berth.api.awsjson.errors import error_response
from berth.api.ecr.errors import TABLE, EcrError, from_domain
from berth.api.ecr.model import ECR

ECR_EXCEPTIONS = {shape.name for shape in ECR.service_model.error_shapes}
DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.BerthError) and cls is not errors.BerthError
]


def test_every_table_entry_names_real_ecr_exceptions() -> None:
    for candidates, _ in TABLE.values():
        names = (candidates,) if isinstance(candidates, str) else candidates
        # The two every AWS JSON service answers, though ECR's model lists neither.
        common = {"UnrecognizedClientException", "AccessDeniedException"}
        assert set(names) <= ECR_EXCEPTIONS | common, names


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_every_domain_error_has_an_ecr_error(cls: type[errors.BerthError]) -> None:
    """Fails when berth/errors.py gains an exception this table does not map yet."""
    assert any(base in TABLE for base in cls.__mro__), f"add {cls.__name__} to ecr.errors.TABLE"


@pytest.mark.parametrize(
    ("exc", "operation", "expected"),
    [
        (errors.RepositoryNotFound("gone"), "DescribeImages", "RepositoryNotFoundException"),
        (errors.InvalidName("bad"), "CreateRepository", "InvalidParameterException"),
        (errors.UnsupportedDigest("md5"), "BatchGetImage", "InvalidParameterException"),
        (errors.ManifestNotFound("none"), "DescribeImages", "ImageNotFoundException"),
        (errors.ManifestTooLarge("big"), "PutImage", "InvalidParameterException"),
        (errors.ManifestUnsupported("v1"), "PutImage", "InvalidParameterException"),
        (errors.ManifestUnsupported("v1"), "StartImageScan", "UnsupportedImageTypeException"),
        (errors.ManifestBlobUnknown("layer"), "PutImage", "LayersNotFoundException"),
        (errors.DigestMismatch("x"), "PutImage", "ImageDigestDoesNotMatchException"),
        (errors.DigestMismatch("x"), "CompleteLayerUpload", "InvalidLayerException"),
        (errors.DigestMismatch("x"), None, "InvalidParameterException"),
        (errors.UploadNotFound("x"), "UploadLayerPart", "UploadNotFoundException"),
        (errors.UploadRangeInvalid("x", offset=5), "UploadLayerPart", "InvalidLayerPartException"),
        (errors.BlobNotFound("x"), "GetDownloadUrlForLayer", "LayersNotFoundException"),
        (
            errors.RepositoryAlreadyExists("x"),
            "CreateRepository",
            "RepositoryAlreadyExistsException",
        ),
        (errors.ImageTagAlreadyExists("x"), "PutImage", "ImageTagAlreadyExistsException"),
        (errors.EmptyUpload("x"), "CompleteLayerUpload", "EmptyUploadException"),
    ],
)
def test_domain_errors_per_operation(
    exc: errors.BerthError, operation: str | None, expected: str
) -> None:
    error = from_domain(exc, operation)
    assert (error.type_name, error.status, error.message) == (expected, 400, exc.message)


def test_not_authenticated_is_unrecognized_client() -> None:
    # ECR answers an unknown or revoked credential with 400, as botocore's tests record.
    error = from_domain(errors.NotAuthenticated("Not Authorized"), "ListImages")
    assert (error.type_name, error.status) == ("UnrecognizedClientException", 400)


def test_only_modelled_fields_are_carried() -> None:
    exc = errors.UploadRangeInvalid(
        "bad part", offset=0, uploadId="u", upload_id="u", repositoryName="app"
    )
    error = from_domain(exc, "UploadLayerPart")
    assert error.fields == {"lastValidByteReceived": -1, "uploadId": "u", "repositoryName": "app"}
    assert from_domain(exc, "CreateRepository").fields == {}  # InvalidParameterException has none


def test_an_unmapped_domain_error_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    class Novel(errors.BerthError):
        pass

    with caplog.at_level(logging.ERROR, logger=awsjson_errors.__name__):
        error = from_domain(Novel("new"), "ListImages")
    assert (error.type_name, error.status) == ("ServerException", 500)
    assert "Novel" in caplog.text


def test_the_error_body() -> None:
    error = EcrError("InvalidLayerPartException", "bad", uploadId="u", lastValidByteReceived=9)
    response = error_response(error, "rid")
    assert response.status == 400
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"] == "rid"
    assert response.body is not None
    assert json.loads(bytes(response.body)) == {
        "__type": "InvalidLayerPartException",
        "message": "bad",
        "uploadId": "u",
        "lastValidByteReceived": 9,
    }
