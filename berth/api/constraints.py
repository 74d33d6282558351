"""The constraints a service model puts on a value (length, range, pattern, enum), checked the
way AWS's front ends check them, in the sentences AWS quotes.

The Query protocol (berth/api/query/form.py) and the JSON protocol (berth/api/awsjson/
validate.py) name a broken constraint with the same sentence ("Member must have length less
than or equal to 64") and quote values as Java's toString renders them, so that much is here.
How each protocol gets values out of a request, names the place they came from and words the
error around these sentences differs, and stays with each.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from berth.api.java_regex import compile_pattern

if TYPE_CHECKING:  # annotations only: botocore's model module is not needed to serve
    from botocore.model import Shape  # type: ignore[import-untyped]

NOT_NULL = "Member must not be null"


def length_constraints(shape: Shape, length: int) -> list[str]:
    """The constraints a string, blob, list or map of `length` breaks."""
    return _bounds(shape, length, "length")


def _bounds(shape: Shape, value: float, what: str) -> list[str]:
    """`min` and `max`: of a length, or of a number's value."""
    found = []
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    if minimum is not None and value < minimum:
        found.append(f"Member must have {what} greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        found.append(f"Member must have {what} less than or equal to {maximum}")
    return found


def scalar_constraints(shape: Shape, value: Any) -> list[str]:
    """The constraints `value`, already converted to `shape`'s type, breaks."""
    kind = shape.type_name
    if kind == "string":
        # Java counts UTF-16 code units, so a character outside the BMP counts twice (and a
        # lone surrogate, which JSON can carry, once).
        found = length_constraints(shape, len(value.encode("utf-16-le", "surrogatepass")) // 2)
        pattern = shape.metadata.get("pattern")
        if pattern is not None:
            compiled = compile_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                found.append(f"Member must satisfy regular expression pattern: {pattern}")
        if shape.enum and value not in shape.enum:
            found.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        return found
    if kind == "blob":
        return length_constraints(shape, len(value))
    if kind in ("integer", "long", "float", "double"):
        return _bounds(shape, value, "value")
    return []


def items_constraint(subject: str, shape: Shape, values: list[Any]) -> str | None:
    """The one constraint a list's items (or a map's keys or values) of `shape` break between
    them, each distinct item constraint named once: "Member must satisfy constraint: [Member
    must not be null, ...]". `subject` is "Member", "Map keys" or "Map value", as AWS words it.
    A None in `values` is a missing item."""
    broken: list[str] = []
    for value in values:
        found = [NOT_NULL] if value is None else scalar_constraints(shape, value)
        broken.extend(c for c in found if c not in broken)
    if not broken:
        return None
    return f"{subject} must satisfy constraint: [{', '.join(broken)}]"


def java_text(value: Any) -> str:
    """`value` as Java's toString renders it, which is what AWS quotes in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    return str(value)
