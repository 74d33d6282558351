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

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_ARN_FIXED_COLONS = 5


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
        value = _ESCAPES.get(name)
        if value is None:
            value = lookup(name)
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


def _glob_source(segments: tuple[Segment, ...], *, arn: bool) -> str:
    # In ARN mode the wildcards of the first five colon-separated components stop at colons, so
    # that each component is matched on its own, as ArnLike does; the sixth (the resource part)
    # may span colons.
    colons = 0
    out: list[str] = []
    for text, literal in segments:
        for ch in text:
            bounded = arn and colons < _ARN_FIXED_COLONS
            if ch == ":":
                colons += 1
            if literal or ch not in "*?":
                out.append(re.escape(ch))
            elif ch == "*":
                out.append("[^:]*" if bounded else ".*")
            else:
                out.append("[^:]" if bounded else ".")
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(source: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(source, flags)


def glob_matches(
    segments: tuple[Segment, ...], text: str, *, ignore_case: bool = False, arn: bool = False
) -> bool:
    if arn and plain(segments).count(":") < _ARN_FIXED_COLONS:
        # Not six components (e.g. a bare "*"): nothing to align, so match the whole string.
        arn = False
    if arn and text.count(":") < _ARN_FIXED_COLONS:
        return False
    return _compile(_glob_source(segments, arn=arn), ignore_case).fullmatch(text) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Action names ignore case and take no variables."""
    return glob_matches(((pattern, False),), action, ignore_case=True)
