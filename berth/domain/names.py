"""Repository-name and tag grammars (OCI distribution spec, with ECR's length limits)."""

from __future__ import annotations

import re

from berth.errors import InvalidName, InvalidTag

_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")

NAME_MIN, NAME_MAX = 2, 256


def validate_name(name: str) -> str:
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise InvalidName(
            f"repository name must be {NAME_MIN} to {NAME_MAX} characters long", name=name[:300]
        )
    if not _NAME.fullmatch(name):
        raise InvalidName(
            "repository name must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+"
            "((.|_|__|-+)[a-z0-9]+)*)*",
            name=name,
        )
    return name


def validate_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise InvalidTag("tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", tag=tag[:200])
    return tag
