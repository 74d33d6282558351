"""Condition operators: what each one accepts when a policy is parsed, and how it is evaluated.

Evaluation follows IAM's documented rules: values given for one key are OR'ed; a missing key makes
a positive operator false and a negated one true; `...IfExists` makes a missing key true;
`ForAllValues` holds for a missing or empty key and `ForAnyValue` does not. A negated operator is
the negation of its positive twin over all the values, so `StringNotEquals` with two values holds
only if the context value equals neither.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from berth.domain.policy.model import Condition, SetOperator
from berth.domain.policy.patterns import Lookup, expand, glob_matches, plain

Family = Literal[
    "string", "string_ci", "string_like", "numeric", "date", "bool", "binary", "ip", "arn", "null"
]
Compare = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    family: Family
    negated: bool = False
    compare: Compare = operator.eq

    @property
    def takes_variables(self) -> bool:
        # IAM substitutes variables only for string, ARN and Bool comparisons.
        return self.family in ("string", "string_ci", "string_like", "arn", "bool")


def _ordered(family: Family, prefix: str) -> list[Operator]:
    return [
        Operator(f"{prefix}Equals", family),
        Operator(f"{prefix}NotEquals", family, negated=True),
        Operator(f"{prefix}LessThan", family, compare=operator.lt),
        Operator(f"{prefix}LessThanEquals", family, compare=operator.le),
        Operator(f"{prefix}GreaterThan", family, compare=operator.gt),
        Operator(f"{prefix}GreaterThanEquals", family, compare=operator.ge),
    ]


OPERATORS: dict[str, Operator] = {
    op.name.lower(): op
    for op in [
        Operator("StringEquals", "string"),
        Operator("StringNotEquals", "string", negated=True),
        Operator("StringEqualsIgnoreCase", "string_ci"),
        Operator("StringNotEqualsIgnoreCase", "string_ci", negated=True),
        Operator("StringLike", "string_like"),
        Operator("StringNotLike", "string_like", negated=True),
        *_ordered("numeric", "Numeric"),
        *_ordered("date", "Date"),
        Operator("Bool", "bool"),
        Operator("BinaryEquals", "binary"),
        Operator("IpAddress", "ip"),
        Operator("NotIpAddress", "ip", negated=True),
        Operator("ArnEquals", "arn"),
        Operator("ArnLike", "arn"),
        Operator("ArnNotEquals", "arn", negated=True),
        Operator("ArnNotLike", "arn", negated=True),
        Operator("Null", "null"),
    ]
}

_SET_PREFIXES: dict[str, SetOperator] = {
    "foranyvalue:": "ForAnyValue",
    "forallvalues:": "ForAllValues",
}
_IF_EXISTS = "ifexists"


def split_operator(name: str) -> tuple[Operator, SetOperator | None, bool] | None:
    """`ForAnyValue:StringLikeIfExists` -> (StringLike, ForAnyValue, True); None if unknown.
    Operator names are matched without regard to case."""
    lowered = name.lower()
    set_operator: SetOperator | None = None
    for prefix, qualifier in _SET_PREFIXES.items():
        if lowered.startswith(prefix):
            set_operator = qualifier
            lowered = lowered[len(prefix) :]
            break
    op = OPERATORS.get(lowered)
    if_exists = False
    if op is None and lowered.endswith(_IF_EXISTS):
        op = OPERATORS.get(lowered[: -len(_IF_EXISTS)])
        if_exists = True
    if op is None:
        return None
    # Null tests presence itself, so neither qualifier means anything for it.
    if op.family == "null" and (set_operator is not None or if_exists):
        return None
    return op, set_operator, if_exists


# --- value parsing ------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_EPOCH = re.compile(r"[0-9]+(\.[0-9]+)?")
_YEAR_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


def parse_number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


@lru_cache(maxsize=1024)
def parse_date(text: str) -> datetime | None:
    """W3C ISO 8601 profiles or epoch seconds. All digits means epoch seconds, so the year-only
    ISO form is not recognised; naive times are taken as UTC."""
    try:
        if _EPOCH.fullmatch(text):
            return _EPOCH_START + timedelta(seconds=float(text))
        year_month = _YEAR_MONTH.fullmatch(text)
        if year_month:
            return datetime(int(year_month[1]), int(year_month[2]), 1, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_bool(text: str) -> bool:
    return text.lower() in ("true", "false")


def valid_value(op: Operator, value: str, *, variables: bool) -> bool:
    """Whether IAM would accept `value` for `op`. Values of types that can never match are
    refused up front: a Deny that silently never applies is worse than an error."""
    if op.family == "numeric":
        return parse_number(value) is not None
    if op.family == "date":
        return parse_date(value) is not None
    if op.family == "ip":
        return _parse_network(value) is not None
    if op.family == "binary":
        return _parse_binary(value) is not None
    if op.family == "null":
        return _is_bool(value)
    if op.family == "bool":
        return _is_bool(value) or (variables and "${" in value)
    return True


# --- evaluation ---------------------------------------------------------------------------------

Matcher = Callable[[str], bool]


def _string_matcher(op: Operator, value: str, lookup: Lookup | None) -> Matcher | None:
    segments = expand(value, lookup)
    if segments is None:
        return None
    if op.family == "string_like":
        return lambda actual: glob_matches(segments, actual)
    if op.family == "arn":
        return lambda actual: glob_matches(segments, actual, arn=True)
    wanted = plain(segments)
    if op.family == "string_ci":
        folded = wanted.casefold()
        return lambda actual: actual.casefold() == folded
    if op.family == "bool":
        lowered = wanted.lower()
        return lambda actual: actual.lower() == lowered
    return lambda actual: actual == wanted


def _typed_matcher(op: Operator, value: str) -> Matcher | None:
    compare = op.compare
    if op.family == "numeric":
        number = parse_number(value)
        if number is None:
            return None
        return lambda actual: (found := parse_number(actual)) is not None and compare(found, number)
    if op.family == "date":
        moment = parse_date(value)
        if moment is None:
            return None
        return lambda actual: (found := parse_date(actual)) is not None and compare(found, moment)
    if op.family == "binary":
        blob = _parse_binary(value)
        if blob is None:
            return None
        return lambda actual: _parse_binary(actual) == blob
    network = _parse_network(value)  # the remaining family: ip
    if network is None:
        return None
    return lambda actual: (
        (found := _parse_address(actual)) is not None
        and (found.version == network.version and found in network)
    )


def _matchers(op: Operator, values: tuple[str, ...], lookup: Lookup | None) -> list[Matcher]:
    # Values whose variables cannot be resolved are dropped: they match nothing.
    built = (
        _string_matcher(op, value, lookup) if op.takes_variables else _typed_matcher(op, value)
        for value in values
    )
    return [matcher for matcher in built if matcher is not None]


def holds(condition: Condition, actual: tuple[str, ...] | None, lookup: Lookup | None) -> bool:
    """Whether one condition holds, given the context values of its key (None when absent) and
    the variable lookup (None for documents without variables)."""
    op = OPERATORS.get(condition.operator.lower())
    if op is None:  # only reachable with hand-built Conditions
        return False
    present = bool(actual)
    if op.family == "null":
        # "true" asserts that the key is absent.
        return any((value.lower() == "true") != present for value in condition.values)
    if not actual:
        if condition.if_exists or condition.set_operator == "ForAllValues":
            return True
        if condition.set_operator == "ForAnyValue":
            return False
        return op.negated
    matchers = _matchers(op, condition.values, lookup)

    def positive(value: str) -> bool:
        return any(matcher(value) for matcher in matchers)

    if condition.set_operator == "ForAllValues":
        return all(positive(value) != op.negated for value in actual)
    if condition.set_operator == "ForAnyValue":
        return any(positive(value) != op.negated for value in actual)
    return any(positive(value) for value in actual) != op.negated
