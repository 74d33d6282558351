"""Check a request body against the ECR model the way AWS's front end does.

Two kinds of failure, in AWS's order and wording:

* The JSON does not fit the shape (a number where a string belongs, a list where a structure
  belongs, bad base64): `SerializationException`, raised at the first one found, with the
  message AWS's JSON deserializer gives (e.g. "NUMBER_VALUE cannot be converted to String").
* The value breaks a constraint (required, length, pattern, enum, range, list size): collected
  over the whole request, members in model order. ECR reports these as
  `InvalidParameterException` with only the first one:
  "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less
  than or equal to 100'". An operation that does not model InvalidParameterException gets
  AWS's generic `ValidationException` listing all of them: "2 validation errors detected:
  Value 'x' at 'a' failed to satisfy constraint: Member must ...; Value null at 'b' ...".

Paths name members as AWS does: `imageIds.1.member.imageTag` for a structure inside a list
(1-based). Constraints on the items of a list of scalars are reported once, on the list:
"Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]".
Unknown members are ignored, as AWS's JSON services do, and left out of the result.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from berth.api.awsjson.errors import JsonError
from berth.api.constraints import (
    NOT_NULL,
    items_constraint,
    java_text,
    length_constraints,
    scalar_constraints,
)

if TYPE_CHECKING:  # annotations only: botocore's model module is not needed to serve
    from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

# Java's wrapper classes, named in AWS's deserializer messages.
_JAVA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "float": "Float",
    "double": "Double",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}
_JAVA_CLASSES = {
    "blob": "java.nio.ByteBuffer",
    "timestamp": "java.util.Date",
}
_BOUNDS = {"integer": 2**31, "long": 2**63}
_COMPOSITE = frozenset({"structure", "list", "map"})


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    value: Any  # as received; None when the member is missing
    constraint: str


def validate(
    operation: OperationModel, params: Any, *, constraint_error: str | None = None
) -> dict[str, Any]:
    """`params` checked against `operation`'s input: blobs decoded to bytes, timestamps parsed
    to aware datetimes, unknown members dropped. Raises JsonError. `constraint_error`: the
    exception broken constraints answer with the generic message listing all of them (CloudWatch
    Logs answers InvalidParameterException so)."""
    shape = operation.input_shape
    violations: list[Violation] = []
    result = _structure(shape, params, "", violations) if shape is not None else {}
    if violations:
        raise _invalid(operation, violations, constraint_error)
    return result


def _invalid(
    operation: OperationModel, violations: list[Violation], constraint_error: str | None = None
) -> JsonError:
    # Services that model InvalidParameterException (ECR) name the first violation with it;
    # the rest answer ValidationException with all of them, as AWS's frameworks do.
    if constraint_error is None and any(
        shape.name == "InvalidParameterException" for shape in operation.error_shapes
    ):
        first = violations[0]
        return JsonError(
            "InvalidParameterException",
            f"Invalid parameter at '{first.path}' failed to satisfy constraint: "
            f"'{first.constraint}'",
        )
    count = len(violations)
    detail = "; ".join(
        f"Value {_java_value(v.value)} at '{v.path}' failed to satisfy constraint: {v.constraint}"
        for v in violations
    )
    return JsonError(
        constraint_error or "ValidationException",
        f"{count} validation error{'s' if count > 1 else ''} detected: {detail}",
    )


def _java_value(value: Any) -> str:
    return "null" if value is None else f"'{java_text(value)}'"


def _serialization(message: str) -> JsonError:
    return JsonError("SerializationException", message)


def _value(shape: Shape, raw: Any, path: str, out: list[Violation]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, raw, path, out)
    if kind == "list":
        return _list(shape, raw, path, out)
    if kind == "map":
        return _map(shape, raw, path, out)
    value = _scalar(shape, raw)
    out.extend(Violation(path, raw, constraint) for constraint in scalar_constraints(shape, value))
    return value


def _structure(shape: Shape, raw: Any, path: str, out: list[Violation]) -> dict[str, Any]:
    if isinstance(raw, list):
        raise _serialization("Start of list found where not expected")
    if not isinstance(raw, dict):
        raise _serialization("Unexpected field type")
    required = set(shape.required_members)
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = member.serialization.get("name", name)
        where = f"{path}.{key}" if path else key
        item = raw.get(key)
        if item is None:  # JSON null counts as absent, as in AWS
            if name in required:
                out.append(Violation(where, None, NOT_NULL))
            continue
        result[name] = _value(member, item, where, out)
    return result


def _list(shape: Shape, raw: Any, path: str, out: list[Violation]) -> list[Any]:
    if isinstance(raw, dict):
        raise _serialization("Start of structure or map found where not expected")
    if not isinstance(raw, list):
        raise _serialization("Unexpected field type")
    out.extend(Violation(path, raw, c) for c in length_constraints(shape, len(raw)))
    member = shape.member
    if member.type_name in _COMPOSITE:
        items: list[Any] = []
        for index, item in enumerate(raw, 1):
            where = f"{path}.{index}.member"
            if item is None:
                out.append(Violation(where, None, NOT_NULL))
            else:
                items.append(_value(member, item, where, out))
        return items
    values = _scalars(member, raw)
    constraint = items_constraint("Member", member, values)
    if constraint is not None:
        out.append(Violation(path, raw, constraint))
    return [value for value in values if value is not None]


def _map(shape: Shape, raw: Any, path: str, out: list[Violation]) -> dict[str, Any]:
    if isinstance(raw, list):
        raise _serialization("Start of list found where not expected")
    if not isinstance(raw, dict):
        raise _serialization("Unexpected field type")
    out.extend(Violation(path, raw, c) for c in length_constraints(shape, len(raw)))
    keys = _scalars(shape.key, list(raw))
    constraint = items_constraint("Map keys", shape.key, keys)
    if constraint is not None:
        out.append(Violation(path, raw, constraint))
    if shape.value.type_name in _COMPOSITE:
        result: dict[str, Any] = {}
        for key, item in raw.items():
            where = f"{path}.{key}.member"
            if item is None:
                out.append(Violation(where, None, NOT_NULL))
            else:
                result[key] = _value(shape.value, item, where, out)
        return result
    values = _scalars(shape.value, list(raw.values()))
    constraint = items_constraint("Map value", shape.value, values)
    if constraint is not None:
        out.append(Violation(path, raw, constraint))
    return {key: value for key, value in zip(keys, values, strict=True) if value is not None}


def _scalars(shape: Shape, raw: list[Any]) -> list[Any]:
    """Converted items; None (JSON null) stays None."""
    return [None if item is None else _scalar(shape, item) for item in raw]


def _token(raw: Any) -> str:
    """The name AWS's JSON deserializer gives a value it could not convert."""
    if isinstance(raw, bool):
        return "TRUE_VALUE" if raw else "FALSE_VALUE"
    if isinstance(raw, int):
        return "NUMBER_VALUE"
    if isinstance(raw, float):
        return "DECIMAL_VALUE"
    return "STRING_VALUE"


def _scalar(shape: Shape, raw: Any) -> Any:
    kind = shape.type_name
    java = _JAVA_TYPES.get(kind, kind)
    if isinstance(raw, dict):
        raise _serialization("Start of structure or map found where not expected")
    if isinstance(raw, list):
        java_class = _JAVA_CLASSES.get(kind, f"java.lang.{java}")
        raise _serialization(f"Unrecognized collection type class {java_class}")
    if kind == "string":
        if isinstance(raw, str):
            return raw
    elif kind in _BOUNDS:
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            number = int(raw)  # AWS truncates a decimal sent for an integer
            if -_BOUNDS[kind] <= number < _BOUNDS[kind]:
                return number
    elif kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            raise _serialization("Unexpected token received from parser")
    elif kind in ("float", "double"):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
    elif kind == "blob":
        return _blob(raw)
    elif kind == "timestamp":
        return _timestamp(raw)
    raise _serialization(f"{_token(raw)} cannot be converted to {java}")


def _blob(raw: Any) -> bytes:
    if not isinstance(raw, str):
        raise _serialization("only base-64-encoded strings are convertible to bytes")
    if len(raw) % 4:
        raise _serialization(
            f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(raw)}"
        )
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise _serialization("Invalid Base64 character") from None


def _timestamp(raw: Any) -> datetime:
    # botocore sends epoch seconds in JSON 1.1; ISO 8601 text is accepted as AWS does.
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise _serialization(f"{_token(raw)} cannot be converted to Date")
