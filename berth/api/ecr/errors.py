"""ECR's wire errors: the one table from domain exceptions to ECR's exceptions.

Every modelled ECR exception is a client fault answered with HTTP 400; only ServerException
(`fault: true` in the model) is a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth import errors
from berth.api.awsjson import errors as awsjson_errors
from berth.api.awsjson.errors import JsonError, Table
from berth.api.ecr.model import ECR

# ECR's errors are the protocol's errors; the name stays for the many places raising them.
EcrError = JsonError


def _last_valid_byte(exc: errors.BerthError) -> Mapping[str, Any]:
    assert isinstance(exc, errors.UploadRangeInvalid)
    # The client resumes at lastValidByteReceived + 1, so an empty upload reports -1.
    return {"lastValidByteReceived": exc.offset - 1}


# Each entry names candidate ECR exceptions: the first one the operation's model lists wins,
# else the last, so one domain error can be e.g. ImageDigestDoesNotMatchException in PutImage
# and InvalidLayerException in CompleteLayerUpload. Subclasses inherit their base's entry.
# Per-image problems of BatchGetImage/BatchDeleteImage are `failures[]`, not errors.
TABLE: Table = {
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
    errors.ScanNotFound: ("ScanNotFoundException", None),
    errors.ScanLimitExceeded: ("LimitExceededException", None),
    errors.UnsupportedImageType: ("UnsupportedImageTypeException", None),
}


def from_domain(exc: errors.BerthError, operation: str | None) -> JsonError:
    """The ECR error `operation` answers for a domain exception; a 500 for unmapped ones."""
    return awsjson_errors.from_domain(ECR, TABLE, exc, operation)
