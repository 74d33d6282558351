"""The model's `pattern` constraints, which are Java regexes, as Python regexes.

Most of them mean the same in Python once \\w, \\d and \\s are ASCII-only, as they are in Java.
What Python's `re` lacks is Unicode categories: IAM's tag keys and values are
`[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`, so `\\p{..}` is spelled out as code point ranges taken from
`unicodedata`. Java's `.` stops at any line terminator, not only at \\n, so it is narrowed too.
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


@cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """`pattern` compiled for `fullmatch`, or None when it uses Java syntax that is not
    translated here (the constraint is then not checked, rather than checked wrongly)."""
    translated = _translate(pattern)
    if translated is None:
        return None
    with warnings.catch_warnings():
        # Python warns about set syntax (nested sets, `--`, `&&`) that would mean something
        # else in Java as well: such a pattern is not one this module can vouch for.
        warnings.simplefilter("error")
        try:
            return re.compile(translated, re.ASCII)
        except (re.error, FutureWarning):
            return None


def _translate(pattern: str) -> str | None:
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            category = _CATEGORY.match(pattern, i)
            if category is not None:
                negated = category[1] == "P"
                ranges = _category_class(category[2] or category[3])
                if ranges is None or (negated and in_class):
                    return None
                if in_class:
                    out.append(ranges)
                else:
                    out.append(f"[{'^' if negated else ''}{ranges}]")
                i = category.end()
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "[":
                return None  # Java's nested class (a union) has no Python spelling here
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
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
        elif char == ".":
            out.append(_JAVA_DOT)
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


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
