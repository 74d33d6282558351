"""Query protocol request parameters: flat form pairs to nested data, checked against the
operation's input shape the way AWS's front end checks them.

The form flattens the input shape with dots, as botocore's QuerySerializer writes it:

* a structure member is `Name` (or its locationName), nested ones `Outer.Inner`;
* a list is `Name.member.1`, `Name.member.2`, ... (1-based, taken in index order; the item
  name is the list member's locationName when the model gives one; a flattened list drops
  it: `Name.1`), and an empty list is the bare `Name=`;
* a map is `Name.entry.1.key` / `Name.entry.1.value` (`Name.1.key` when flattened, with the
  key and value shapes' locationNames when given).

Scalars arrive as text and are converted by shape type. Text that is not a value of its type
(`MaxItems=ten`, `Flag=maybe`) fails the whole request at once with `MalformedInput`, in
Berth's own words, since botocore never sends such text and AWS documents no wording for it.

Constraint failures (required, length, pattern, enum, range) are collected over the whole
request, members in model order, and reported as IAM and STS do: code `ValidationError`,
"2 validation errors detected: Value 'x' at 'userName' failed to satisfy constraint: Member
must ...; Value null at 'policyArn' failed to satisfy constraint: Member must not be null".
Paths name members in lower camel case, with 1-based list positions:
`tags.1.member.value`. Constraints on the items of a list of scalars are reported once, on
the list. Values of sensitive shapes (passwords, secrets) are not quoted back.

Unknown parameters are ignored, as AWS's Query services do; a parameter given twice counts
once, with its first value.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from berth.api.constraints import (
    NOT_NULL,
    items_constraint,
    java_text,
    length_constraints,
    scalar_constraints,
)
from berth.api.query.errors import QueryError

if TYPE_CHECKING:  # annotations only: botocore's model module is not needed to serve
    from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

_BOUNDS = {"integer": 2**31, "long": 2**63}
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Java's Double.parseDouble, less hexadecimal floats and type suffixes.
_DECIMAL = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_TYPE_NAMES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "float": "Float",
    "double": "Double",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}


class _Absent:
    """What a member decodes to when the form does not carry it (the form has no null)."""


ABSENT = _Absent()


class Node:
    """The parameters under one dotted prefix: the value given for the prefix itself, if any,
    and the longer keys grouped by their next segment."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, Node] = {}


def tree(pairs: Iterable[tuple[str, str]]) -> Node:
    root = Node()
    for key, value in pairs:
        node = root
        for segment in key.split("."):
            child = node.children.get(segment)
            if child is None:
                child = node.children[segment] = Node()
            node = child
        if node.value is None:
            node.value = value
    return root


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    value: Any  # as decoded; None when the member is missing
    constraint: str
    sensitive: bool = False


def decode(operation: OperationModel, root: Node) -> dict[str, Any]:
    """The parameters under `root` as `operation`'s input: nested dicts and lists keyed by
    member name, scalars converted by type, unknown keys dropped. Raises QueryError."""
    shape = operation.input_shape
    if shape is None:
        return {}
    violations: list[Violation] = []
    result = _structure(shape, root, "", violations)
    if violations:
        raise invalid(violations)
    return result


def invalid(violations: list[Violation]) -> QueryError:
    count = len(violations)
    detail = "; ".join(
        f"Value{_quoted(v)} at '{v.path}' failed to satisfy constraint: {v.constraint}"
        for v in violations
    )
    plural = "s" if count > 1 else ""
    return QueryError("ValidationError", f"{count} validation error{plural} detected: {detail}")


def _quoted(violation: Violation) -> str:
    if violation.value is None:
        return " null"
    if violation.sensitive:
        return ""
    return f" '{java_text(violation.value)}'"


def _member_path(path: str, name: str) -> str:
    # AWS's validator names members as the service's own model does: lower camel case.
    camel = name[:1].lower() + name[1:]
    return f"{path}.{camel}" if path else camel


def member_key(member: Shape, name: str) -> str:
    """The form key (and XML element name) of structure member `name`. A flattened list
    whose items have a locationName is keyed by that name, as botocore does both ways."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name is not None:
            return str(item_name)
    return str(member.serialization.get("name", name))


def _value(shape: Shape, node: Node, path: str, out: list[Violation]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        # The form cannot carry an empty structure: one is there when any key is under it.
        if not node.children:
            return ABSENT
        return _structure(shape, node, path, out)
    if kind == "list":
        return _list(shape, node, path, out)
    if kind == "map":
        return _map(shape, node, path, out)
    if node.value is None:
        return ABSENT
    value = _scalar(shape, node.value, path)
    out.extend(_violations(shape, path, value, scalar_constraints(shape, value)))
    return value


def _violations(shape: Shape, path: str, value: Any, found: list[str]) -> list[Violation]:
    sensitive = bool(shape.metadata.get("sensitive"))
    return [Violation(path, value, constraint, sensitive) for constraint in found]


def _structure(shape: Shape, node: Node, path: str, out: list[Violation]) -> dict[str, Any]:
    required = set(shape.required_members)
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        where = _member_path(path, name)
        child = node.children.get(member_key(member, name))
        value = ABSENT if child is None else _value(member, child, where, out)
        if value is ABSENT:
            if name in required:
                out.append(Violation(where, None, NOT_NULL))
            continue
        result[name] = value
    return result


def _indexed(node: Node | None) -> list[Node]:
    """The children of `node` keyed 1, 2, ..., in index order. Keys that are not positive
    integers are ignored like any unknown parameter; gaps close up."""
    if node is None:
        return []
    items: dict[int, Node] = {}
    for key, child in node.children.items():
        # Python refuses to convert digit strings past 4300 digits; no list is that long.
        if key.isascii() and key.isdigit() and len(key) <= 9 and int(key) > 0:
            items.setdefault(int(key), child)
    return [items[index] for index in sorted(items)]


def _list(shape: Shape, node: Node, path: str, out: list[Violation]) -> Any:
    member = shape.member
    if shape.serialization.get("flattened"):
        raw = _indexed(node)
    else:
        raw = _indexed(node.children.get(member.serialization.get("name", "member")))
    if not raw and node.value != "":
        return ABSENT  # `Name=` with nothing else is how an empty list is sent
    # The list's own length comes first in the report, though it quotes the decoded items.
    mark = len(out)
    items: list[Any] = []
    if member.type_name in ("structure", "list", "map"):
        for index, child in enumerate(raw, 1):
            where = f"{path}.{index}.member"
            item = _value(member, child, where, out)
            if item is ABSENT:
                out.append(Violation(where, None, NOT_NULL))
            else:
                items.append(item)
    else:
        values = _scalars(member, [child.value for child in raw], path)
        items = [value for value in values if value is not None]
        constraint = items_constraint("Member", member, values)
        if constraint is not None:
            out.extend(_violations(member, path, values, [constraint]))
    out[mark:mark] = _violations(shape, path, items, length_constraints(shape, len(raw)))
    return items


def _map(shape: Shape, node: Node, path: str, out: list[Violation]) -> Any:
    key_shape, value_shape = shape.key, shape.value
    key_name = key_shape.serialization.get("name", "key")
    value_name = value_shape.serialization.get("name", "value")
    entries = _indexed(node if shape.serialization.get("flattened") else node.children.get("entry"))
    pairs = [
        (entry.children[key_name].value, entry.children.get(value_name))
        for entry in entries
        if key_name in entry.children and entry.children[key_name].value is not None
    ]
    if not pairs and node.value != "":
        return ABSENT
    keys = _scalars(key_shape, [key for key, _ in pairs], path)
    raw = dict(zip(keys, (value for _, value in pairs), strict=True))
    mark = len(out)
    constraint = items_constraint("Map keys", key_shape, keys)
    if constraint is not None:
        out.extend(_violations(key_shape, path, keys, [constraint]))
    result: dict[Any, Any] = {}
    if value_shape.type_name in ("structure", "list", "map"):
        for key, child in raw.items():
            where = f"{path}.{key}.member"
            item = ABSENT if child is None else _value(value_shape, child, where, out)
            if item is ABSENT:
                out.append(Violation(where, None, NOT_NULL))
            else:
                result[key] = item
    else:
        texts = [None if child is None else child.value for child in raw.values()]
        values = _scalars(value_shape, texts, path)
        result = {k: v for k, v in zip(raw, values, strict=True) if v is not None}
        constraint = items_constraint("Map value", value_shape, values)
        if constraint is not None:
            out.extend(
                _violations(value_shape, path, dict(zip(raw, values, strict=True)), [constraint])
            )
    out[mark:mark] = _violations(shape, path, result, length_constraints(shape, len(raw)))
    return result


def _scalars(shape: Shape, texts: list[str | None], path: str) -> list[Any]:
    """Converted items; None (an item without a value) stays None."""
    return [None if text is None else _scalar(shape, text, path) for text in texts]


def _malformed(shape: Shape, text: str, path: str) -> QueryError:
    java = _TYPE_NAMES.get(shape.type_name, shape.type_name)
    return QueryError("MalformedInput", f"Value '{text}' at '{path}' is not a valid {java}")


def _scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    if kind in ("string", "character"):
        return text
    if kind in _BOUNDS:
        if len(text) <= 40 and _INTEGER.fullmatch(text):
            number = int(text)
            if -_BOUNDS[kind] <= number < _BOUNDS[kind]:
                return number
    elif kind == "boolean":
        # Stricter than Java's Boolean.parseBoolean, which takes any other text as false.
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif kind in ("float", "double"):
        if _DECIMAL.fullmatch(text):
            return float(text)
    elif kind == "timestamp":
        when = _timestamp(text)
        if when is not None:
            return when
    elif kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            pass
    raise _malformed(shape, text, path)


def _timestamp(text: str) -> datetime | None:
    # botocore sends ISO 8601 unless the member's timestampFormat says otherwise.
    if _DECIMAL.fullmatch(text):
        seconds = float(text)
        if math.isfinite(seconds):
            try:
                return datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:  # a member with timestampFormat rfc822
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
