"""The model's Java regexes, read as Java reads them."""

from __future__ import annotations

import pytest

from berth.api.query.patterns import compile_pattern
from berth.api.query.wire import QueryModel
from tests.unit.api.query.conftest import IAM, STS


@pytest.mark.parametrize("model", [IAM, STS], ids=["iam", "sts"])
def test_every_pattern_of_the_model_compiles(model: QueryModel) -> None:
    service = model.service_model
    patterns = {
        service.shape_for(name).metadata["pattern"]
        for name in service.shape_names
        if "pattern" in service.shape_for(name).metadata
    }
    assert len(patterns) > 10
    assert [pattern for pattern in patterns if compile_pattern(pattern) is None] == []


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        # Java's \w and \d are ASCII-only.
        (r"[\w+=,.@-]+", ["bob_1+x=y,z.a@b-c"], ["b\u00f6b", "\u0661", "a b"]),
        (r"[\d]*", ["", "123456"], ["\u0661"]),
        # Unicode categories, in a class and on their own, with or without braces.
        (
            r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            ["", "\u540d\u524d \u00e9t\u00e9", "\u3000\u00a0", "\u0661\u2167\u00bd", "_.:/=+-@"],
            ["\t", "a!", "\u2028x\n", "\U0001f600"],
        ),
        (r"\p{Lu}\pL*", ["\u00c9t\u00e9", "A"], ["\u00e9t\u00e9", "A1"]),
        (r"\P{L}+", ["12 !"], ["1a"]),
        # Java's `.` stops at every line terminator.
        (r"a.b", ["a b", "a\u00e9b"], ["a\nb", "a\rb", "a\u0085b", "a\u2028b"]),
        # A `]` first in a class is a literal in both dialects.
        (r"[]a]+", ["]a]"], ["b"]),
        (r"[^]a]+", ["bc"], ["b]"]),
        (r"\u002F[\u0021-\u007F]*", ["/", "/a~"], ["a", "/ "]),
        # STS's ARN pattern ends `\u10000-\u10FFFF`, which Java (and Python) read as \u1000,
        # then 0-\u10FF, then FF: characters outside the BMP are not in it.
        (
            "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD"
            "\\u10000-\\u10FFFF]+",
            ["arn:aws:iam::123456789012:role/\u00e9\ufffd"],
            ["arn\x00", "arn\U0001f600"],
        ),
    ],
)
def test_java_semantics(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    for text in matching:
        assert compiled.fullmatch(text), text
    for text in not_matching:
        assert not compiled.fullmatch(text), text


@pytest.mark.parametrize(
    "pattern",
    [
        r"[\P{L}a]",  # a negated category inside a class
        r"\p{Alpha}",  # a POSIX class, not a general category
        r"[a[b]]",  # Java's class union
        r"[a-z&&[^e]]",  # Java's class intersection
        r"\Qa.b\E",  # Java's quoting
        r"(",
    ],
)
def test_untranslatable_patterns_are_not_checked(pattern: str) -> None:
    assert compile_pattern(pattern) is None
