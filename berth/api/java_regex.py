"""The `pattern` constraints of AWS service models, which are Java regexes, as Python regexes.

Both protocols check them (the Query protocol's form for IAM and STS, the JSON protocol's
bodies for ECR, CloudWatch Logs, EventBridge and CloudTrail), so both read them here, the one
way Java reads them. Most patterns mean the same in Python once \\w, \\d and \\s are ASCII-only,
as they are in Java (`re.ASCII`). What differs:

* Unicode categories: `re` has no `\\p{..}`, and IAM's tag keys and values are
  `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`, so `\\p{L}`, `\\p{Lu}`, `\\pL`, `\\p{IsL}` are spelled out as
  code point ranges taken from `unicodedata`; `\\P{..}` outside a class is the negated class.
* Java's `.` stops at every line terminator, not only at \\n, so it is narrowed, except where
  DOTALL (`(?s)`, CloudTrail's `(?s).*`) lets it match everything.
* An escaped surrogate pair (`\\uD800\\uDC00`, in CloudTrail's patterns) is the one code point it
  encodes to Java; Python would read two lone surrogates.
* A `-` next to a class escape inside a class (`[\\w-_]`, in CloudWatch Logs) is a literal to
  Java and a bad range to Python, so it is escaped.

Java syntax that has no translation here (a class inside a class, `&&`, `\\Q..\\E`, POSIX and
script properties, `\\P{..}` inside a class, `\\v`) and anything Python rejects or warns about
gives None: the constraint is then not checked, rather than checked with another meaning.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import warnings
from functools import cache

# Java's line terminators, which `.` does not match unless DOTALL is on.
_JAVA_DOT = r"[^\n\r\u0085\u2028\u2029]"
_CATEGORY = re.compile(r"\\([pP])(?:\{(?:Is)?([A-Z][a-z]?)\}|([A-Z]))")
_CLASS_ESCAPES = frozenset("wWdDsSpP")
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
# `(?s)` and `(?s:...)`, which Python spells as Java does (and rejects where Java does not).
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")


@cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """`pattern`, a Java regex, compiled for `fullmatch` (Java's `matches`), or None when it
    uses Java syntax that is not translated here."""
    translated = _translate(pattern)
    if translated is None:
        return None
    with warnings.catch_warnings():
        # Python warns about set syntax (nested sets, `--`, `&&`) that would mean something
        # else in Java as well: such a pattern is not one this module can vouch for.
        warnings.simplefilter("error")
        try:
            return re.compile(translated, re.ASCII)
        except (re.error, OverflowError, Warning):
            return None


def _translate(pattern: str) -> str | None:
    out: list[str] = []
    in_class = False
    # The class item just written was a class escape (\w, \p{L}): a `-` now is a literal.
    after_class_escape = False
    dotall = False
    enclosing: list[bool] = []  # DOTALL outside each open group, restored at its `)`
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            pair = _SURROGATE_PAIR.match(pattern, i)
            if pair is not None:
                high, low = int(pair[1], 16), int(pair[2], 16)
                out.append(f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}")
                after_class_escape = False
                i = pair.end()
                continue
            category = _CATEGORY.match(pattern, i)
            if category is not None:
                negated = category[1] == "P"
                ranges = _category_class(category[2] or category[3])
                if ranges is None or (negated and in_class):
                    return None
                out.append(ranges if in_class else f"[{'^' if negated else ''}{ranges}]")
                after_class_escape = True
                i = category.end()
                continue
            escaped = pattern[i + 1 : i + 2]
            if escaped == "v":
                return None  # any vertical whitespace to Java, only \x0b to Python
            out.append(pattern[i : i + 2])
            after_class_escape = escaped in _CLASS_ESCAPES
            i += 2
            continue
        if in_class:
            if char == "[":
                return None  # Java's nested class (a union) has no Python spelling here
            if char == "]":
                in_class = False
            elif char == "-" and (after_class_escape or _class_escape_at(pattern, i + 1)):
                char = r"\-"
            out.append(char)
            after_class_escape = False
            i += 1
            continue
        if char == "[":
            in_class = True
            after_class_escape = False
            out.append(char)
            # A `]` or `^]` straight after the opening bracket is a literal in both dialects.
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            if pattern.startswith("]", i + 1):
                out.append(r"\]")
                i += 1
            i += 1
            continue
        if char == "(":
            flags = _FLAGS.match(pattern, i)
            if flags is None or flags[3] == ":":
                enclosing.append(dotall)
            if flags is not None:
                # `(?s)` holds to the end of the enclosing group, `(?s:...)` inside its own.
                dotall = ("s" in flags[1] or dotall) and "s" not in (flags[2] or "")
                out.append(flags[0])
                i = flags.end()
                continue
        elif char == ")" and enclosing:
            dotall = enclosing.pop()
        elif char == ".":
            char = "." if dotall else _JAVA_DOT
        out.append(char)
        i += 1
    return "".join(out)


def _class_escape_at(pattern: str, i: int) -> bool:
    return pattern.startswith("\\", i) and pattern[i + 1 : i + 2] in _CLASS_ESCAPES


@cache
def _category_class(name: str) -> str | None:
    """The body of a character class matching Unicode general category `name` ("L", "Lu"),
    or None for a name that is not a general category."""
    ranges = _category_ranges().get(name)
    if ranges is None:
        return None
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges
    )


@cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    # One pass over all code points (a few tenths of a second), paid on the first pattern that
    # names a category. Runs of one two-letter category are added to it and to its one-letter
    # union, where neighbouring runs (Lu then Ll) merge.
    ranges: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category(chr(0))
    for code in range(1, sys.maxunicode + 2):
        category = unicodedata.category(chr(code)) if code <= sys.maxunicode else ""
        if category == current:
            continue
        for name in (current, current[0]):
            spans = ranges.setdefault(name, [])
            if spans and spans[-1][1] == start - 1:
                spans[-1] = (spans[-1][0], code - 1)
            else:
                spans.append((start, code - 1))
        start, current = code, category
    return ranges
