from __future__ import annotations

import pytest

from berth.domain.mutability import is_immutable
from berth.domain.settings import RepositorySettings
from berth.domain.wildcards import matches


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("latest", "latest", True),
        ("latest", "latest-1", False),
        ("dev-*", "dev-", True),
        ("dev-*", "dev-42", True),
        ("*-rc", "1.0-rc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
        ("release-?", "release-1", False),
        ("release-?", "release-?", True),
        ("v[1]", "v1", False),
        ("v[1]", "v[1]", True),
        ("*", "", True),
        ("a.b", "aXb", False),
    ],
)
def test_only_star_is_a_wildcard(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


@pytest.mark.parametrize(
    ("mode", "filters", "tag", "immutable"),
    [
        ("MUTABLE", (), "v1", False),
        ("IMMUTABLE", (), "v1", True),
        ("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*"), "latest", False),
        ("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*"), "dev-7", False),
        ("IMMUTABLE_WITH_EXCLUSION", ("latest", "dev-*"), "v1", True),
        ("MUTABLE_WITH_EXCLUSION", ("release-*",), "release-1", True),
        ("MUTABLE_WITH_EXCLUSION", ("release-*",), "main", False),
    ],
)
def test_tag_mutability(mode: str, filters: tuple[str, ...], tag: str, immutable: bool) -> None:
    assert is_immutable(RepositorySettings(mode, filters), tag) is immutable
