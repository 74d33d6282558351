"""Tag mutability as ECR defines it, with its WILDCARD exclusion filters."""

from __future__ import annotations

from berth.domain import wildcards
from berth.domain.settings import RepositorySettings

MUTABLE = "MUTABLE"
IMMUTABLE = "IMMUTABLE"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MODES = (MUTABLE, IMMUTABLE, MUTABLE_WITH_EXCLUSION, IMMUTABLE_WITH_EXCLUSION)


def _matches(tag: str, filters: tuple[str, ...]) -> bool:
    return any(wildcards.matches(f, tag) for f in filters)


def is_immutable(settings: RepositorySettings, tag: str) -> bool:
    mode = settings.image_tag_mutability
    if mode == IMMUTABLE:
        return True
    if mode == IMMUTABLE_WITH_EXCLUSION:
        return not _matches(tag, settings.mutability_exclusions)
    if mode == MUTABLE_WITH_EXCLUSION:
        return _matches(tag, settings.mutability_exclusions)
    return False
