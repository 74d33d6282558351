"""A repository's ECR settings, as CreateRepository and the Put*Configuration calls set them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RepositorySettings:
    image_tag_mutability: str = "MUTABLE"
    # WILDCARD filters of the *_WITH_EXCLUSION modes.
    mutability_exclusions: tuple[str, ...] = ()
    scan_on_push: bool = False
    encryption_type: str = "AES256"
    kms_key: str | None = None
