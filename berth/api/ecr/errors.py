"""ECR's wire errors, and the one table from domain exceptions to them.

Every modelled ECR exception is a client fault answered with HTTP 400; only ServerException
(`fault: true` in the model) is a 500. botocore reads the code from `__type`, the text from
`message` and the request id from `x-amzn-RequestId`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from berth import errors
from berth.api.ecr import model, wire

log = logging.getLogger(__name__)

T = TypeVar("T")


class EcrError(Exception):
    """An answer in ECR's error format. `fields` are extra members of the exception shape,
    e.g. InvalidLayerPartException's `uploadId` and `lastValidByteReceived`."""

    def __init__(self, type_name: str, message: str, *, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.status = status
        self.fields = fields


def server_error() -> EcrError:
    return EcrError("ServerException", "An internal error occurred", status=500)


def error_response(error: EcrError, request_id: str) -> web.Response:
    body = {**error.fields, "__type": error.type_name, "message": error.message}
    return wire.response(body, request_id, error.status)


Fields = Callable[[errors.BerthError], Mapping[str, Any]]


def _last_valid_byte(exc: errors.BerthError) -> Mapping[str, Any]:
    assert isinstance(exc, errors.UploadRangeInvalid)
    # The client resumes at lastValidByteReceived + 1, so an empty upload reports -1.
    return {"lastValidByteReceived": exc.offset - 1}


# Each entry names candidate ECR exceptions: the first one the operation's model lists wins,
# else the last, so one domain error can be e.g. ImageDigestDoesNotMatchException in PutImage
# and InvalidLayerException in CompleteLayerUpload. Subclasses inherit their base's entry.
# Per-image problems of BatchGetImage/BatchDeleteImage are `failures[]`, not errors.
TABLE: dict[type[errors.BerthError], tuple[str | tuple[str, ...], Fields | None]] = {
    errors.InvalidName: ("InvalidParameterException", None),
    errors.InvalidTag: ("InvalidParameterException", None),
    errors.InvalidDigest: ("InvalidParameterException", None),
    errors.InvalidPagination: ("InvalidParameterException", None),
    errors.RepositoryNotFound: ("RepositoryNotFoundException", None),
    errors.BlobNotFound: ("LayersNotFoundException", None),
    errors.BlobReferenced: ("InvalidParameterException", None),
    errors.UploadNotFound: ("UploadNotFoundException", None),
    errors.UploadInvalid: (("InvalidLayerPartException", "InvalidParameterException"), None),
    errors.UploadRangeInvalid: (
        ("InvalidLayerPartException", "InvalidParameterException"),
        _last_valid_byte,
    ),
    errors.SizeInvalid: (("InvalidLayerPartException", "InvalidParameterException"), None),
    errors.DigestMismatch: (
        ("ImageDigestDoesNotMatchException", "InvalidLayerException", "InvalidParameterException"),
        None,
    ),
    errors.ManifestInvalid: ("InvalidParameterException", None),
    # PutImage models no media-type error; the scanning operations have one.
    errors.ManifestUnsupported: (
        ("UnsupportedImageTypeException", "InvalidParameterException"),
        None,
    ),
    errors.ManifestNotFound: ("ImageNotFoundException", None),
    errors.ReferencedImagesNotFound: ("ReferencedImagesNotFoundException", None),
    errors.ManifestBlobUnknown: ("LayersNotFoundException", None),
    # ECR only meets this in BatchDeleteImage, as failure ImageReferencedByManifestList.
    errors.ManifestReferenced: ("InvalidParameterException", None),
    errors.InvalidParameter: ("InvalidParameterException", None),
    errors.RepositoryAlreadyExists: ("RepositoryAlreadyExistsException", None),
    errors.RepositoryNotEmpty: ("RepositoryNotEmptyException", None),
    errors.TooManyTags: ("TooManyTagsException", None),
    errors.ImageAlreadyExists: ("ImageAlreadyExistsException", None),
    errors.ImageTagAlreadyExists: ("ImageTagAlreadyExistsException", None),
    errors.LayerAlreadyExists: ("LayerAlreadyExistsException", None),
    errors.LayerPartTooSmall: ("LayerPartTooSmallException", None),
    errors.EmptyUpload: ("EmptyUploadException", None),
    errors.LifecyclePolicyNotFound: ("LifecyclePolicyNotFoundException", None),
    errors.LifecyclePolicyPreviewInProgress: ("LifecyclePolicyPreviewInProgressException", None),
    errors.LifecyclePolicyPreviewNotFound: ("LifecyclePolicyPreviewNotFoundException", None),
    errors.NotAuthenticated: ("UnrecognizedClientException", None),
    errors.AccessDenied: ("AccessDeniedException", None),
    errors.RepositoryPolicyNotFound: ("RepositoryPolicyNotFoundException", None),
    errors.RegistryPolicyNotFound: ("RegistryPolicyNotFoundException", None),
}


def _lookup(table: Mapping[type[errors.BerthError], T], exc: errors.BerthError) -> T | None:
    for cls in type(exc).__mro__:
        entry = table.get(cls)
        if entry is not None:
            return entry
    return None


def from_domain(exc: errors.BerthError, operation: str | None) -> EcrError:
    """The ECR error `operation` answers for a domain exception; a 500 for unmapped ones."""
    entry = _lookup(TABLE, exc)
    if entry is None:
        log.error("no ECR error for %s", type(exc).__name__, exc_info=exc)
        return server_error()
    candidates, extra = entry
    if isinstance(candidates, str):
        candidates = (candidates,)
    modelled = model.modelled_errors(operation) if operation else frozenset()
    type_name = next((name for name in candidates if name in modelled), candidates[-1])
    allowed = model.error_fields(type_name)
    found = {**exc.detail, **(extra(exc) if extra else {})}
    fields = {key: value for key, value in found.items() if key in allowed}
    return EcrError(type_name, exc.message, **fields)
