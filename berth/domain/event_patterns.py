"""Amazon EventBridge event patterns: validation of the pattern document and a pure matcher.

The documented behaviour ("Creating Amazon EventBridge event patterns", "Content filtering in
event patterns") is the contract. Where the documentation is silent, Berth follows aws/event-ruler,
the library EventBridge itself uses to compile and match patterns; validation messages reuse its
wording, since EventBridge returns them as "Event pattern is not valid. Reason: <ruler message>".

Matching model:

* fields of an object are ANDed, the values listed for a field are ORed, and every `$or` at a level
  needs one of its alternatives to match;
* a pattern object over an event array matches when one element of the array matches it, so
  fields inside the same element are matched together (event-ruler's "array-consistent" matching);
* a leaf only sees scalar values: an event object or an empty array at a leaf counts as absent,
  which is why `{"exists": false}` matches a field whose value is an object (documented);
* every operator except `exists` needs the field to be present; `anything-but` then matches any
  present value, of any type, that none of its excluded values matches.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from berth.errors import BerthError

# TestEventPattern's and PutRule's documented maximum; the default quota for rules is 2048, which
# is a service quota rather than a property of the pattern language, so callers enforce it.
MAX_PATTERN_LENGTH = 4096
# Not an EventBridge limit: bounds the recursion of parsing and matching. Real patterns nest a
# handful of levels.
MAX_DEPTH = 64
# TestEventPattern rejects events without these; `resources`, documented as mandatory too, is in
# practice optional (observed by LocalStack against AWS).
REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")

_OR = "$or"
# Field names event-ruler refuses inside `$or`, so that an operator misplaced one level too high
# is an error rather than a field silently named "prefix".
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)
_END: Final = object()
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
_MASK_BITS = re.compile(r"[+-]?[0-9]+")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidEventPattern(BerthError):
    """The pattern is not a valid event pattern (EventBridge: InvalidEventPatternException)."""


class InvalidEvent(BerthError):
    """TestEventPattern's event is not a valid event (EventBridge: ValidationException)."""


# --- the compiled pattern ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Equals:
    """An exact value; numbers compare numerically, so 5 matches 5.0 and 5e0."""

    value: str | Decimal | bool | None
    # A string that is an IP address literal also matches the same address written otherwise.
    address: IpAddress | None = None


@dataclass(frozen=True, slots=True)
class Prefix:
    value: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Suffix:
    value: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    value: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """`*` matches any run of characters; `\\*` and `\\\\` are a literal star and backslash."""

    text: str
    # The literal runs between stars: one more than there are stars.
    segments: tuple[str, ...]


Exclusion = Equals | Prefix | Suffix | EqualsIgnoreCase | Wildcard


@dataclass(frozen=True, slots=True)
class AnythingBut:
    excluded: tuple[Exclusion, ...]


@dataclass(frozen=True, slots=True)
class Numeric:
    lower: Decimal | None = None
    lower_inclusive: bool = False
    upper: Decimal | None = None
    upper_inclusive: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool


@dataclass(frozen=True, slots=True)
class Cidr:
    network: IpNetwork


Matcher = (
    Equals | Prefix | Suffix | EqualsIgnoreCase | Wildcard | AnythingBut | Numeric | Exists | Cidr
)


@dataclass(frozen=True, slots=True)
class Field:
    """A leaf: matches when any of its matchers does."""

    matchers: tuple[Matcher, ...]


@dataclass(frozen=True, slots=True)
class Node:
    """An object level of the pattern."""

    fields: tuple[tuple[str, Field | Node], ...]
    # One entry per `$or` at this level, each the alternatives of which one must match.
    any_of: tuple[tuple[Node, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Pattern:
    root: Node


# --- parsing -----------------------------------------------------------------------------------


def _invalid(reason: str) -> InvalidEventPattern:
    return InvalidEventPattern(f"Event pattern is not valid. Reason: {reason}")


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON, and therefore EventBridge, does not.
    raise ValueError(f"Unrecognized token '{name}'")


def _load(text: str) -> Any:
    # Decimal keeps the number the author wrote: 0.1 stays 0.1 and large integers stay exact.
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Decimal)):
        return str(value)
    if isinstance(value, list):
        return "["
    return "{"


def parse_pattern(text: str) -> Pattern:
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidEventPattern(
            "1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
        )
    try:
        document = _load(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise _invalid("Pattern is nested too deeply") from None
    except (ValueError, ArithmeticError) as exc:
        raise _invalid(str(exc)) from None
    if not isinstance(document, dict):
        raise _invalid("Filter is not an object")
    try:
        return Pattern(_node(document, inside_or=False, depth=0))
    except RecursionError:
        raise _invalid("Pattern is nested too deeply") from None


def _node(obj: dict[str, Any], *, inside_or: bool, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise _invalid("Pattern is nested too deeply")
    if not obj:
        raise _invalid("Empty objects are not allowed")
    fields: list[tuple[str, Field | Node]] = []
    any_of: list[tuple[Node, ...]] = []
    for key, value in obj.items():
        if key == _OR:
            any_of.append(_alternatives(value, depth))
            continue
        if inside_or and key in _RESERVED_IN_OR:
            raise _invalid(f"{key} is Ruler reserved fieldName which cannot be used inside $or.")
        if isinstance(value, dict):
            fields.append((key, _node(value, inside_or=inside_or, depth=depth + 1)))
        elif isinstance(value, list):
            fields.append((key, _field(value)))
        else:
            raise _invalid(f'"{key}" must be an object or an array')
    return Node(tuple(fields), tuple(any_of))


def _alternatives(value: Any, depth: int) -> tuple[Node, ...]:
    if not isinstance(value, list):
        raise _invalid("It must be an Array followed with $or.")
    alternatives: list[Node] = []
    for item in value:
        if not isinstance(item, dict):
            raise _invalid("Only JSON object is allowed in array of $or relationship.")
        alternatives.append(_node(item, inside_or=True, depth=depth + 1))
    if len(alternatives) < 2:
        raise _invalid("There must have at least 2 Objects in $or relationship.")
    return tuple(alternatives)


def _field(values: list[Any]) -> Field:
    matchers: list[Matcher] = []
    for value in values:
        if isinstance(value, dict):
            matchers.append(_expression(value))
        elif isinstance(value, str):
            matchers.append(Equals(value, _ip_literal(value)))
        elif value is None or isinstance(value, (bool, Decimal)):
            matchers.append(Equals(value))
        else:
            raise _invalid("Match value must be String, number, true, false, or null")
    if not matchers:
        raise _invalid("Empty arrays are not allowed")
    return Field(tuple(matchers))


def _expression(obj: dict[str, Any]) -> Matcher:
    if not obj:
        raise _invalid("Match expression name not found")
    name, argument = next(iter(obj.items()))
    parse = _EXPRESSIONS.get(name)
    if parse is None:
        raise _invalid(f"Unrecognized match type {name}")
    matcher = parse(argument)
    if len(obj) > 1:
        # event-ruler's wording differs for the two operators that take compound arguments.
        if name in ("numeric", "anything-but"):
            raise _invalid("Too many elements in numeric expression")
        raise _invalid("Only one key allowed in match expression")
    return matcher


def _string_or_ignore_case(argument: Any, operator: str) -> tuple[str, bool]:
    if isinstance(argument, str):
        return argument, False
    if not isinstance(argument, dict):
        raise _invalid(f"{operator} match pattern must be a string")
    if not argument:
        raise _invalid(f"{operator.capitalize()} expression name not found")
    inner, value = next(iter(argument.items()))
    if inner != "equals-ignore-case":
        raise _invalid(f"Unsupported {operator} pattern: {inner}")
    if not isinstance(value, str):
        raise _invalid("equals-ignore-case match pattern must be a string")
    if len(argument) > 1:
        raise _invalid("Only one key allowed in match expression")
    return value, True


def _prefix(argument: Any) -> Matcher:
    return Prefix(*_string_or_ignore_case(argument, "prefix"))


def _suffix(argument: Any) -> Matcher:
    return Suffix(*_string_or_ignore_case(argument, "suffix"))


def _equals_ignore_case(argument: Any) -> Matcher:
    if not isinstance(argument, str):
        raise _invalid("equals-ignore-case match pattern must be a string")
    return EqualsIgnoreCase(argument)


def _wildcard(argument: Any) -> Wildcard:
    if not isinstance(argument, str):
        raise _invalid("wildcard match pattern must be a string")
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(argument):
        char = argument[index]
        if char == "*":
            if argument[index + 1 : index + 2] == "*":
                raise _invalid(
                    f"Consecutive wildcard characters at pos {_byte_pos(argument, index)}"
                )
            segments.append("".join(current))
            current = []
        elif char == "\\":
            escaped = argument[index + 1 : index + 2]
            if escaped not in ("*", "\\"):
                raise _invalid(f"Invalid escape character at pos {_byte_pos(argument, index)}")
            current.append(escaped)
            index += 1
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return Wildcard(argument, tuple(segments))


def _byte_pos(text: str, index: int) -> int:
    # event-ruler reports positions in UTF-8 bytes.
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _comparable(value: Decimal) -> Decimal:
    # event-ruler compares numbers as IEEE doubles and refuses those a double cannot hold exactly
    # (in its decimal rendering), rather than silently comparing a neighbour.
    as_float = float(value)
    if as_float != as_float or as_float in (float("inf"), float("-inf")):
        raise _invalid(f"Cannot compare number : {value}")
    if Decimal(repr(as_float)) != value:
        raise _invalid(f"Cannot compare number : {value}")
    return value


def _numeric(argument: Any) -> Matcher:
    if not isinstance(argument, list):
        raise _invalid("Value of numeric must be an array.")
    items = iter(argument)
    operator = next(items, None)
    if not isinstance(operator, str):
        raise _invalid(f"Invalid member in numeric match: {_render(operator)}")

    def operand(name: str) -> Decimal:
        value = next(items, None)
        if not isinstance(value, Decimal):
            raise _invalid(f"Value of {name} must be numeric")
        return _comparable(value)

    if operator == "=":
        value = operand("equals")
        if next(items, _END) is not _END:
            raise _invalid("Too many elements in numeric expression")
        return Numeric(value, True, value, True)
    if operator in ("<", "<="):
        value = operand(operator)
        if next(items, _END) is not _END:
            raise _invalid("Too many elements in numeric expression")
        return Numeric(upper=value, upper_inclusive=operator == "<=")
    if operator not in (">", ">="):
        raise _invalid(f"Unrecognized numeric range operator: {operator}")
    lower = operand(operator)
    upper_operator = next(items, _END)
    if upper_operator is _END:
        return Numeric(lower=lower, lower_inclusive=operator == ">=")
    if not isinstance(upper_operator, str):
        raise _invalid(f"Bad value in numeric range: {_render(upper_operator)}")
    if upper_operator not in ("<", "<="):
        raise _invalid(f"Bad numeric range operator: {upper_operator}")
    upper = operand(upper_operator)
    if next(items, _END) is not _END:
        raise _invalid("Too many terms in numeric range expression")
    if lower >= upper:
        raise _invalid("Bottom must be less than top")
    return Numeric(lower, operator == ">=", upper, upper_operator == "<=")


def _anything_but(argument: Any) -> Matcher:
    if isinstance(argument, dict):
        return _anything_but_operator(argument)
    if isinstance(argument, list):
        excluded: list[Exclusion] = []
        kinds: set[type] = set()
        for item in argument:
            if isinstance(item, str):
                excluded.append(Equals(item))
                kinds.add(str)
            elif isinstance(item, Decimal):
                excluded.append(Equals(_comparable(item)))
                kinds.add(Decimal)
            else:
                raise _invalid("Inside anything but list, start|null|boolean is not supported.")
        if len(kinds) != 1:
            raise _invalid(
                "Inside anything but list, either all values are number or string, "
                "mixed type is not supported"
            )
        return AnythingBut(tuple(excluded))
    if isinstance(argument, str):
        return AnythingBut((Equals(argument),))
    if isinstance(argument, Decimal):
        return AnythingBut((Equals(_comparable(argument)),))
    if argument is None or isinstance(argument, bool):
        raise _invalid("Inside anything-but list, start|null|boolean is not supported.")
    raise _invalid("Value of anything-but must be an array or single string/number value.")


def _anything_but_operator(argument: dict[str, Any]) -> Matcher:
    if not argument:
        raise _invalid("Anything-But expression name not found")
    operator, inner = next(iter(argument.items()))
    if operator not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
        raise _invalid(f"Unsupported anything-but pattern: {operator}")
    if not isinstance(inner, (list, str)) and not isinstance(inner, Decimal):
        raise _invalid("Value of anything-but must be an array or single string/number value.")
    values = inner if isinstance(inner, list) else [inner]
    excluded: list[Exclusion] = []
    for value in values:
        if not isinstance(value, str):
            if operator == "equals-ignore-case":
                raise _invalid(
                    "Inside anything-but/equals-ignore-case list, "
                    "number|start|null|boolean is not supported."
                )
            if operator == "wildcard":
                raise _invalid("wildcard match pattern must be a string")
            raise _invalid("prefix/suffix match pattern must be a string")
        if operator in ("prefix", "suffix") and not value:
            raise _invalid("Null prefix/suffix not allowed")
        excluded.append(_exclusion(operator, value))
    if not excluded:
        # event-ruler accepts an empty set here and EventBridge fails with an internal error;
        # rejecting it is the useful reading of "empty arrays are not allowed".
        raise _invalid("Empty arrays are not allowed")
    if len(argument) > 1:
        raise _invalid("Too many elements in numeric expression")
    return AnythingBut(tuple(excluded))


def _exclusion(operator: str, value: str) -> Exclusion:
    if operator == "equals-ignore-case":
        return EqualsIgnoreCase(value)
    if operator == "prefix":
        return Prefix(value)
    if operator == "suffix":
        return Suffix(value)
    return _wildcard(value)


def _exists(argument: Any) -> Matcher:
    if not isinstance(argument, bool):
        raise _invalid("exists match pattern must be either true or false.")
    return Exists(argument)


def _cidr(argument: Any) -> Matcher:
    if not isinstance(argument, str):
        raise _invalid("cidr match pattern must be a string")
    parts = argument.split("/")
    if len(parts) != 2:
        raise _invalid("Malformed CIDR, one '/' required")
    address_text, bits_text = parts
    if not _MASK_BITS.fullmatch(bits_text):
        raise _invalid("Malformed CIDR, mask bits must be an integer")
    bits = int(bits_text)
    if bits < 0:
        raise _invalid("Malformed CIDR, mask bits must not be negative")
    if not (_IPV4_SHAPE.fullmatch(address_text) or _IPV6_SHAPE.fullmatch(address_text)):
        raise _invalid(f"Nonstandard IP address: {address_text}")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise _invalid(f"Invalid IP address: {address_text}") from None
    # event-ruler's limits, /32 and /128 included: a single address is written without a mask.
    if address.version == 4 and bits > 31:
        raise _invalid("IPv4 mask bits must be < 32")
    if address.version == 6 and bits > 127:
        raise _invalid("IPv6 mask bits must be < 128")
    return Cidr(ipaddress.ip_network(f"{address}/{bits}", strict=False))


_EXPRESSIONS: dict[str, Callable[[Any], Matcher]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
    "cidr": _cidr,
}


@lru_cache(maxsize=4096)
def _ip_literal(text: str) -> IpAddress | None:
    if not (_IPV4_SHAPE.fullmatch(text) or _IPV6_SHAPE.fullmatch(text)):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- matching ----------------------------------------------------------------------------------


class _Absent:
    pass


_ABSENT: Final = _Absent()


def matches(pattern: Pattern, event: Mapping[str, Any]) -> bool:
    return _match_node(pattern.root, event if isinstance(event, Mapping) else None)


def _match_node(node: Node, obj: Mapping[str, Any] | None) -> bool:
    # `obj` is None where the event has no object at this level: every field is then absent.
    for name, sub in node.fields:
        value = obj.get(name, _ABSENT) if obj is not None else _ABSENT
        if isinstance(sub, Field):
            if not _match_field(sub, value):
                return False
        elif not _match_child(sub, value):
            return False
    return all(any(_match_node(alt, obj) for alt in alts) for alts in node.any_of)


def _match_child(node: Node, value: Any) -> bool:
    if isinstance(value, Mapping):
        return _match_node(node, value)
    if isinstance(value, (list, tuple)):
        objects = [item for item in _flatten(value) if isinstance(item, Mapping)]
        if objects:
            return any(_match_node(node, item) for item in objects)
    return _match_node(node, None)


def _flatten(values: list[Any] | tuple[Any, ...]) -> Iterator[Any]:
    # Iterative, and guarded against a list that contains itself: an event handed over as Python
    # objects need not be a tree.
    stack: list[Iterator[Any]] = [iter(values)]
    seen = {id(values)}
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, (list, tuple)):
            if id(item) not in seen:
                seen.add(id(item))
                stack.append(iter(item))
        else:
            yield item


def _leaf_values(value: Any) -> list[Any]:
    if value is _ABSENT or isinstance(value, Mapping):
        return []
    if isinstance(value, (list, tuple)):
        return [item for item in _flatten(value) if not isinstance(item, Mapping)]
    return [value]


def _match_field(field: Field, value: Any) -> bool:
    values = _leaf_values(value)
    for matcher in field.matchers:
        if isinstance(matcher, Exists):
            if matcher.present == bool(values):
                return True
        elif any(_match_value(matcher, item) for item in values):
            return True
    return False


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if value - value == 0 else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def _fold(text: str) -> str:
    return text.lower()


def _match_value(matcher: Matcher, value: Any) -> bool:
    if isinstance(matcher, Equals):
        return _equals(matcher, value)
    if isinstance(matcher, AnythingBut):
        return not any(_match_value(excluded, value) for excluded in matcher.excluded)
    if isinstance(matcher, Numeric):
        return _in_range(matcher, _number(value))
    if not isinstance(value, str):
        return False
    if isinstance(matcher, Prefix):
        if matcher.ignore_case:
            return _fold(value).startswith(_fold(matcher.value))
        return value.startswith(matcher.value)
    if isinstance(matcher, Suffix):
        if matcher.ignore_case:
            return _fold(value).endswith(_fold(matcher.value))
        return value.endswith(matcher.value)
    if isinstance(matcher, EqualsIgnoreCase):
        return _fold(value) == _fold(matcher.value)
    if isinstance(matcher, Wildcard):
        return _glob(matcher.segments, value)
    if isinstance(matcher, Cidr):
        address = _ip_literal(value)
        return address is not None and address in matcher.network
    return False


def _equals(matcher: Equals, value: Any) -> bool:
    expected = matcher.value
    if expected is None:
        return value is None
    if isinstance(expected, bool):
        return isinstance(value, bool) and value is expected
    if isinstance(expected, Decimal):
        number = _number(value)
        return number is not None and number == expected
    if not isinstance(value, str):
        return False
    if value == expected:
        return True
    return matcher.address is not None and _ip_literal(value) == matcher.address


def _in_range(matcher: Numeric, number: Decimal | None) -> bool:
    if number is None:
        return False
    lower, upper = matcher.lower, matcher.upper
    if lower is not None and (number < lower or (number == lower and not matcher.lower_inclusive)):
        return False
    return upper is None or number < upper or (number == upper and matcher.upper_inclusive)


def _glob(segments: tuple[str, ...], text: str) -> bool:
    # Leftmost-first placement of the middle segments is optimal for `*` globs and, unlike a
    # backtracking regex, stays polynomial whatever the pattern.
    if len(segments) == 1:
        return text == segments[0]
    first, *middle, last = segments
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    position = len(first)
    for segment in middle:
        found = text.find(segment, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True


# --- TestEventPattern --------------------------------------------------------------------------


def test_event_pattern(pattern_text: str, event_text: str) -> bool:
    """TestEventPattern: the pattern is validated first, then the event's envelope."""
    pattern = parse_pattern(pattern_text)
    try:
        event = json.loads(event_text)
    except (ValueError, RecursionError):
        raise InvalidEvent("Parameter Event is not valid.") from None
    if not isinstance(event, dict) or any(name not in event for name in REQUIRED_EVENT_FIELDS):
        raise InvalidEvent("Parameter Event is not valid.")
    return matches(pattern, event)


# pytest would otherwise collect the public function above as a test wherever it is imported.
test_event_pattern.__test__ = False  # type: ignore[attr-defined]
