"""The Java regex features AWS models use that Python's `re` spells differently.

* `\\p{L}`, `\\p{N}`, `\\p{Z}` (and the other one-letter Unicode categories): `re` has no
  `\\p{...}`, so they become explicit code point ranges (Python's own Unicode data);
  `\\P{...}` outside a character class becomes the negated class.
* An escaped surrogate pair (`\\uD800\\uDC00`) is the one code point it encodes.
* A `-` next to a class escape inside a character class (`[\\w-_]`) is a literal in Java and an
  error in Python: it is escaped.

Everything else passes through unchanged; with `re.ASCII`, `\\w`, `\\d` and `\\s` are ASCII-only
as in Java.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

_CLASS_ESCAPES = frozenset("wWdDsS")
# A surrogate pair written as two escapes (`\\uD800\\uDC00`) is one code point to Java.
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


@cache
def _runs() -> tuple[tuple[int, int, str], ...]:
    """Every code point once, as (first, last, general category) runs: one pass, ~0.2 s."""
    runs: list[tuple[int, int, str]] = []
    start, current = 0, unicodedata.category(chr(0))
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != current:
            runs.append((start, code - 1, current))
            start, current = code, category
    runs.append((start, sys.maxunicode, current))
    return tuple(runs)


@cache
def category_ranges(category: str) -> str:
    """The body of a character class matching the code points of a Unicode general category
    (one letter, e.g. `L`, or two, e.g. `Lu`)."""
    merged: list[list[int]] = []
    for first, last, name in _runs():
        if name.startswith(category):
            if merged and merged[-1][1] == first - 1:
                merged[-1][1] = last
            else:
                merged.append([first, last])
    return "".join(
        f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}"
        for first, last in merged
    )


def _pairs(match: re.Match[str]) -> str:
    high, low = int(match[1], 16), int(match[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


def from_java(pattern: str) -> str:
    """`pattern`, a Java regex, as a Python regex of the same meaning."""
    pattern = _SURROGATE_PAIR.sub(_pairs, pattern)
    out: list[str] = []
    index, length = 0, len(pattern)
    in_class = False
    after_class_escape = False
    while index < length:
        char = pattern[index]
        if char == "\\" and index + 1 < length:
            following = pattern[index + 1]
            if following in "pP" and pattern.startswith("{", index + 2) and "}" in pattern[index:]:
                end = pattern.index("}", index + 2)
                body = category_ranges(pattern[index + 3 : end])
                negated = following == "P"
                if in_class:
                    if negated:  # no way to say it inside a class: leave it to fail loudly
                        out.append(pattern[index : end + 1])
                    else:
                        out.append(body)
                else:
                    out.append(f"[{'^' if negated else ''}{body}]")
                index = end + 1
                after_class_escape = True
                continue
            out.append(pattern[index : index + 2])
            after_class_escape = following in _CLASS_ESCAPES
            index += 2
            continue
        if in_class and char == "-":
            before_escape = pattern.startswith("\\", index + 1) and (
                pattern[index + 2 : index + 3] in _CLASS_ESCAPES
                or pattern[index + 2 : index + 3] in ("p", "P")
            )
            if after_class_escape or before_escape:
                out.append("\\-")
                index += 1
                after_class_escape = False
                continue
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            index += 1
            # A leading `^` and a leading `]` belong to the class.
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            if pattern.startswith("]", index):
                out.append("\\]")
                index += 1
            after_class_escape = False
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(char)
        after_class_escape = False
        index += 1
    return "".join(out)
