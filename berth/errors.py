"""Domain exceptions, free of any wire protocol.

Services raise these; each protocol adapter owns exactly one table that maps them to its own
wire errors (see ``berth.api.oci.errors``).
"""

from __future__ import annotations

from typing import Any


class BerthError(Exception):
    """Base of every error a client can cause."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidName(BerthError):
    pass


class InvalidTag(BerthError):
    pass


class InvalidDigest(BerthError):
    pass


class UnsupportedDigest(InvalidDigest):
    pass


class InvalidPagination(BerthError):
    pass


class RepositoryNotFound(BerthError):
    pass


class BlobNotFound(BerthError):
    pass


class BlobReferenced(BerthError):
    """A blob cannot be unlinked while a manifest of the repository references it."""


class UploadNotFound(BerthError):
    pass


class UploadInvalid(BerthError):
    pass


class UploadRangeInvalid(BerthError):
    """A chunk does not start where the upload currently ends."""

    def __init__(self, message: str, *, offset: int, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.offset = offset


class SizeInvalid(BerthError):
    pass


class DigestMismatch(BerthError):
    pass


class ManifestInvalid(BerthError):
    pass


class ManifestTooLarge(ManifestInvalid):
    pass


class ManifestUnsupported(BerthError):
    pass


class ManifestNotFound(BerthError):
    pass


class ManifestBlobUnknown(BerthError):
    pass


class ManifestReferenced(BerthError):
    """A manifest cannot be deleted while an image index of the repository lists it."""


class InvalidParameter(BerthError):
    """A request parameter that the API's own grammar accepts but the operation does not."""


class RepositoryAlreadyExists(BerthError):
    pass


class RepositoryNotEmpty(BerthError):
    pass


class TooManyTags(BerthError):
    pass


class ImageAlreadyExists(BerthError):
    """PutImage of a manifest and tag that are already there: nothing would change."""


class ImageTagAlreadyExists(BerthError):
    """The tag exists and the repository's mutability setting forbids moving it."""


class LayerAlreadyExists(BerthError):
    pass


class LayerPartTooSmall(BerthError):
    pass


class EmptyUpload(BerthError):
    pass


class NotAuthenticated(BerthError):
    """No valid registry credentials on a request that needs them."""


class ReferencedImagesNotFound(ManifestNotFound):
    """An image index lists manifests the repository does not have."""


class LifecyclePolicyNotFound(BerthError):
    pass


class LifecyclePolicyPreviewInProgress(BerthError):
    pass


class LifecyclePolicyPreviewNotFound(BerthError):
    pass


class AccessDenied(BerthError):
    """A policy denies the request."""


class RepositoryPolicyNotFound(BerthError):
    pass


class RegistryPolicyNotFound(BerthError):
    pass


class ScanNotFound(BerthError):
    """DescribeImageScanFindings of an image that was never scanned."""


class ScanLimitExceeded(BerthError):
    """StartImageScan again within the rescan interval (ECR: once per 24 hours)."""


class UnsupportedImageType(ManifestUnsupported):
    """A scan of something that is not a container image (an index, an artifact)."""
