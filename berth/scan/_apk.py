"""Alpine (apk) version ordering, ported from apk-tools' src/version.c.

univers' AlpineLinuxVersion is Gentoo's grammar: it refuses versions Alpine ships (musl
1.2.4_git20230717-r4 in Alpine 3.19 has a `_git` suffix) and its `>=` disagrees with its `<`. The
grammar: digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _COMMIT_HASH, _REVISION_NO, _END, _INVALID = (
    range(9)
)
# Suffixes below "none" are pre-releases: 1.0_rc1 < 1.0 < 1.0_p1.
_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_SUFFIX_NONE = 5
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdef")
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    value: str = ""
    number: int = 0
    suffix: int = 0


def _tokens(version: str) -> list[_Token]:
    """Tokens up to and including the final END or INVALID one."""
    position = 0

    def span(allowed: frozenset[str]) -> str:
        nonlocal position
        start = position
        while position < len(version) and version[position] in allowed:
            position += 1
        return version[start:position]

    def digits(kind: int) -> _Token:
        value = span(_DIGITS)
        return _Token(kind, value, int(value)) if value else _Token(_INVALID)

    tokens = [digits(_INITIAL_DIGIT)]
    while tokens[-1].kind < _END:
        previous = tokens[-1].kind
        if position == len(version):
            tokens.append(_Token(_END))
            continue
        char = version[position]
        token = _Token(_INVALID)
        if char in _LOWER:
            if previous <= _DIGIT:
                token = _Token(_LETTER, char)
                position += 1
        elif char == "." or char in _DIGITS:
            if char == "." and previous > _DIGIT:
                pass
            else:
                position += char == "."
                if previous in (_INITIAL_DIGIT, _DIGIT):
                    token = digits(_DIGIT)
                elif previous == _SUFFIX:
                    token = digits(_SUFFIX_NO)
        elif char == "_":
            if previous <= _SUFFIX_NO:
                position += 1
                name = span(_LOWER)
                if name in _SUFFIXES:
                    token = _Token(_SUFFIX, name, suffix=_SUFFIXES[name])
        elif char == "~":
            if previous < _COMMIT_HASH:
                position += 1
                value = span(_HEX)
                if value:
                    token = _Token(_COMMIT_HASH, value)
        elif char == "-" and previous < _REVISION_NO and version.startswith("-r", position):
            position += 2
            token = digits(_REVISION_NO)
        tokens.append(token)
    return tokens


def _string_order(a: str, b: str) -> int:
    encoded_a, encoded_b = a.encode(), b.encode()
    return (encoded_a > encoded_b) - (encoded_a < encoded_b)


def _token_order(a: _Token, b: _Token) -> int:
    if a.kind == _DIGIT and (a.value.startswith("0") or b.value.startswith("0")):
        return _string_order(a.value, b.value)  # leading zeros compare as strings, as Gentoo's
    if a.kind in (_INITIAL_DIGIT, _DIGIT, _SUFFIX_NO, _REVISION_NO):
        x, y = a.number, b.number
    elif a.kind == _LETTER:
        x, y = ord(a.value), ord(b.value)
    elif a.kind == _SUFFIX:
        x, y = a.suffix, b.suffix
    else:
        return _string_order(a.value, b.value)
    return (x > y) - (x < y)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b` (apk_version_compare)."""
    tokens_a, tokens_b = _tokens(a), _tokens(b)
    index = 0
    ta, tb = tokens_a[0], tokens_b[0]
    while ta.kind == tb.kind and ta.kind < _END:
        order = _token_order(ta, tb)
        if order:
            return order
        index += 1
        ta, tb = tokens_a[index], tokens_b[index]
    if ta.kind == tb.kind:
        return 0
    # Equal so far: the longer version is newer, unless what it has more is a pre-release suffix.
    if ta.kind == _SUFFIX and ta.suffix < _SUFFIX_NONE:
        return -1
    if tb.kind == _SUFFIX and tb.suffix < _SUFFIX_NONE:
        return 1
    return -1 if ta.kind > tb.kind else 1


def is_valid(version: str) -> bool:
    return _tokens(version)[-1].kind == _END


@total_ordering
class ApkVersion:
    """A valid apk version, ordered as apk orders it."""

    __slots__ = ("string",)

    def __init__(self, string: str) -> None:
        if not is_valid(string):
            raise ValueError(f"{string!r} is not a valid apk version")
        self.string = string

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApkVersion):
            return NotImplemented
        return compare(self.string, other.string) == 0

    def __lt__(self, other: ApkVersion) -> bool:
        return compare(self.string, other.string) < 0

    def __repr__(self) -> str:
        return f"ApkVersion({self.string!r})"
