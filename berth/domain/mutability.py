"""Tag mutability as ECR defines it, with its WILDCARD exclusion filters."""

from __future__ import annotations

import fnmatch
import re

from berth.domain.settings import RepositorySettings

MUTABLE = "MUTABLE"
IMMUTABLE = "IMMUTABLE"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MODES = (MUTABLE, IMMUTABLE, MUTABLE_WITH_EXCLUSION, IMMUTABLE_WITH_EXCLUSION)


def _matches(tag: str, filters: tuple[str, ...]) -> bool:
    # ECR's wildcard is `*` only; fnmatch's `?` and `[` must stay literal.
    return any(
        re.fullmatch(fnmatch.translate(f.replace("[", "[[]").replace("?", "[?]")), tag)
        for f in filters
    )


def is_immutable(settings: RepositorySettings, tag: str) -> bool:
    mode = settings.image_tag_mutability
    if mode == IMMUTABLE:
        return True
    if mode == IMMUTABLE_WITH_EXCLUSION:
        return not _matches(tag, settings.mutability_exclusions)
    if mode == MUTABLE_WITH_EXCLUSION:
        return _matches(tag, settings.mutability_exclusions)
    return False
