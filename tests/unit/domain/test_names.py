from __future__ import annotations

import pytest

from berth.domain.names import validate_name, validate_tag
from berth.errors import InvalidName, InvalidTag


@pytest.mark.parametrize(
    "name",
    ["ab", "my-application", "team/app", "a.b", "a__b", "a---b", "a_b/c.d/e-f", "0x/1", "a" * 256],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "A",
        "Ab",
        "a//b",
        "/ab",
        "ab/",
        "a..b",
        "a/../b",
        "a/./b",
        "-ab",
        "ab-",
        "a___b",
        "a_-b",
        "a b",
        "a%2Fb",
        "ä",
        "a" * 257,
        "ab:tag",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_name(name)


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "_x", "A", "0", "a-b_c.d", "t" * 128])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-a", ".a", "a b", "a/b", "a:b", "t" * 129, "ü", "a\n"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidTag):
        validate_tag(tag)
