"""The models' Java regexes, read as Java reads them (the cases were checked against
java.util.regex on OpenJDK 17)."""

from __future__ import annotations

import pytest

from berth.api.java_regex import compile_pattern
from berth.api.service_models import service_model

SERVICES = ["ecr", "iam", "sts", "logs", "events", "cloudtrail"]
# Patterns of the served models that are deliberately not checked (none today): a pattern
# that stops compiling after a botocore upgrade must be looked at, not silently skipped.
SKIPPED: set[str] = set()


def _patterns(service: str) -> set[str]:
    model = service_model(service)
    return {
        model.shape_for(name).metadata["pattern"]
        for name in model.shape_names
        if "pattern" in model.shape_for(name).metadata
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_pattern_of_the_served_models_compiles(service: str) -> None:
    patterns = _patterns(service)
    assert patterns
    assert {pattern for pattern in patterns if compile_pattern(pattern) is None} <= SKIPPED


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
        (r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$", ["caf\u00e9 42_x"], ["a*b"]),
        (r"\p{Lu}\pL*", ["\u00c9t\u00e9", "A"], ["\u00e9t\u00e9", "A1"]),
        (r"\p{IsL}+", ["\u00e9A"], ["1"]),
        (r"\P{L}+", ["12 !"], ["1a"]),
        (r"\P{N}+", ["abc"], ["a1"]),
        # Java's `.` stops at every line terminator, unless DOTALL is on.
        (r"a.b", ["a b", "a\u00e9b"], ["a\nb", "a\rb", "a\u0085b", "a\u2028b", "a\u2029b"]),
        (r"(?s).*", ["", "a\nb\r\u0085\u2028\u2029"], []),
        (r"a(?s:.)b.c", ["a\nb c"], ["a\nb\rc"]),
        (r"(?s)a(?-s:.)b.c", ["a b\nc"], ["a\rb\nc"]),
        # A `]` first in a class is a literal in both dialects.
        (r"[]a]+", ["]a]"], ["b"]),
        (r"[^]a]+", ["bc"], ["b]"]),
        (r"[^\]a]", ["b"], ["]", "a"]),
        # A `-` next to a class escape in a class is a literal to Java.
        (r"[\w-_]*", ["a-b_c"], ["a.b"]),
        (r"[\w-]+", ["a-b"], ["a.b"]),
        (r"[-\w]+", ["-a"], ["a.b"]),
        (r"[\p{L}-a]+", ["\u00e9-a"], ["1"]),
        # A `-` after a range is a literal in both.
        (r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+", ["a-b_c+d.e:00"], ["sha256:xyz"]),
        (r"\u002F[\u0021-\u007F]*", ["/", "/a~"], ["a", "/ "]),
        # An escaped surrogate pair is the code point it encodes, in a class or not.
        (
            "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*",
            ["ok \U0001f600", "\U0010ffff\t"],
            ["\n", "\ud800"],
        ),
        (r"\uD83D\uDE00+", ["\U0001f600\U0001f600"], ["\U0001f600\ude00", "\ud83d"]),
        # STS's ARN pattern ends `\u10000-\u10FFFF`, which Java (and Python) read as \u1000,
        # then 0-\u10FF, then FF: characters outside the BMP are not in it.
        (
            "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD"
            "\\u10000-\\u10FFFF]+",
            ["arn:aws:iam::123456789012:role/\u00e9\ufffd"],
            ["arn\x00", "arn\U0001f600"],
        ),
        (r"[a-z0-9]+(?:[._-][a-z0-9]+)*", ["my-app"], ["my--app"]),
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
        "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
        r"[^\]a]",
        r"^(?!\s*$)\S+",
        r"[0-9]{12}",
        r"(?s)\.",
    ],
)
def test_patterns_that_mean_the_same_in_python_pass_through(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled is not None
    assert compiled.pattern == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        r"[\P{L}a]",  # a negated category inside a class
        r"\p{Alpha}",  # a POSIX class, not a general category
        r"\p{IsLatin}",  # a script
        r"[a[b]]",  # Java's class union
        r"[a-z&&[^e]]",  # Java's class intersection
        r"[a-z&&e]",  # the same without a nested class: Python warns about the `&&`
        r"\Qa.b\E",  # Java's quoting
        r"\v",  # any vertical whitespace to Java, a vertical tab to Python
        r"a(?s).",  # Java's flags mid-pattern, which Python refuses
        r"a{9999999999}",
        r"(",
    ],
)
def test_untranslatable_patterns_are_not_checked(pattern: str) -> None:
    assert compile_pattern(pattern) is None
