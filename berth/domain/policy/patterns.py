"""Wildcards (`*`, `?`) and policy variables (`${aws:username}`) of the IAM policy language.

A pattern is first expanded into segments: text written in the policy, where `*` and `?` are
wildcards, and text that came from a variable, which is always literal. That is what makes
`${*}`, `${?}` and `${$}` work, and keeps a `*` inside a tag value from acting as a wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Returns the single value of a context key, or None when the key is absent or multivalued
# (multivalued keys cannot be used as variables).
Lookup = Callable[[str], str | None]
Segment = tuple[str, bool]  # (text, literal)

# `${*}`, `${?}` and `${$}` stand for the character itself, never a wildcard.
_ESCAPES = frozenset("*?$")
_ARN_COMPONENTS = 6


def _variable(text: str, start: int) -> tuple[int, str, str | None] | None:
    """Parse the body of `${...}` starting after `${`: (index after `}`, name, default)."""
    end = start
    while end < len(text) and text[end] not in ",}":
        end += 1
    if end >= len(text):
        return None
    name = text[start:end].strip()
    if not name or any(ch.isspace() for ch in name):
        return None
    if text[end] == "}":
        return end + 1, name, None
    # `, 'default'`: the default is single-quoted, with '' standing for one quote.
    pos = end + 1
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos >= len(text) or text[pos] != "'":
        return None
    pos += 1
    default: list[str] = []
    while True:
        if pos >= len(text):
            return None
        if text[pos] == "'":
            if text.startswith("''", pos):
                default.append("'")
                pos += 2
                continue
            pos += 1
            break
        default.append(text[pos])
        pos += 1
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos >= len(text) or text[pos] != "}":
        return None
    return pos + 1, name, "".join(default)


def expand(text: str, lookup: Lookup | None) -> tuple[Segment, ...] | None:
    """Substitute policy variables; None when one cannot be resolved (the element then matches
    nothing, as in IAM). `lookup=None` means the document predates variables: all text is
    pattern text."""
    if lookup is None or "${" not in text:
        return ((text, False),)
    segments: list[Segment] = []
    pending: list[str] = []
    pos = 0
    while pos < len(text):
        if not text.startswith("${", pos):
            pending.append(text[pos])
            pos += 1
            continue
        parsed = _variable(text, pos + 2)
        if parsed is None:
            return None
        pos, name, default = parsed
        if pending:
            segments.append(("".join(pending), False))
            pending = []
        value = name if name in _ESCAPES else lookup(name)
        if value is None:
            value = default
        if value is None:
            return None
        segments.append((value, True))
    if pending:
        segments.append(("".join(pending), False))
    return tuple(segments)


def plain(segments: tuple[Segment, ...]) -> str:
    return "".join(text for text, _ in segments)


Token = tuple[str, bool]  # (character, is a wildcard)
_STAR: Token = ("*", True)
_ANY: Token = ("?", True)


def _tokens(segments: tuple[Segment, ...], *, ignore_case: bool) -> list[Token]:
    tokens: list[Token] = []
    for text, literal in segments:
        for ch in text.lower() if ignore_case else text:
            tokens.append((ch, not literal and ch in "*?"))
    return tokens


def _at(chunk: list[Token], text: str, pos: int) -> bool:
    return all(is_wild or text[pos + i] == ch for i, (ch, is_wild) in enumerate(chunk))


@lru_cache(maxsize=4096)
def _chunk_regex(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)


def _find(chunk: list[Token], text: str, start: int, end: int) -> int:
    """Leftmost position in text[start:end] where `chunk` (no `*`, maybe `?`) matches."""
    if not any(is_wild for _, is_wild in chunk):
        return text.find("".join(ch for ch, _ in chunk), start, end)
    source = "".join("." if is_wild else re.escape(ch) for ch, is_wild in chunk)
    found = _chunk_regex(source).search(text, start, end)
    return -1 if found is None else found.start()


def _glob(tokens: list[Token], text: str) -> bool:
    # The pattern is cut at its stars into fixed-length chunks; matching each middle chunk at
    # its leftmost occurrence is then exact, and never backtracks the way a regex would on
    # client-written patterns like `*a*a*a*a*b`.
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token == _STAR:
            chunks.append([])
        else:
            chunks[-1].append(token)
    if len(chunks) == 1:
        return len(tokens) == len(text) and _at(tokens, text, 0)
    first, *middle, last = chunks
    tail = len(text) - len(last)
    if tail < len(first) or not (_at(first, text, 0) and _at(last, text, tail)):
        return False
    pos = len(first)
    for chunk in middle:
        found = _find(chunk, text, pos, tail)
        if found < 0:
            return False
        pos = found + len(chunk)
    return True


def _arn_components(tokens: list[Token]) -> list[list[Token]]:
    components: list[list[Token]] = [[]]
    for token in tokens:
        if token[0] == ":" and len(components) < _ARN_COMPONENTS:
            components.append([])
        else:
            components[-1].append(token)
    return components


def glob_matches(
    segments: tuple[Segment, ...], text: str, *, ignore_case: bool = False, arn: bool = False
) -> bool:
    """`*` matches any run of characters and `?` any one, except in literal segments. With
    `arn`, each of the six colon-separated ARN components is matched on its own, as ArnLike
    does (the last one, the resource, may itself contain colons)."""
    tokens = _tokens(segments, ignore_case=ignore_case)
    if ignore_case:
        text = text.lower()
    if arn:
        components = _arn_components(tokens)
        # A pattern that is not six components (e.g. a bare "*") is matched as a whole.
        if len(components) == _ARN_COMPONENTS:
            parts = text.split(":", _ARN_COMPONENTS - 1)
            return len(parts) == _ARN_COMPONENTS and all(
                _glob(component, part) for component, part in zip(components, parts, strict=True)
            )
    return _glob(tokens, text)


def action_matches(pattern: str, action: str) -> bool:
    """Action names ignore case and take no variables."""
    return glob_matches(((pattern, False),), action, ignore_case=True)
