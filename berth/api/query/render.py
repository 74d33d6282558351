"""Query protocol response documents, written the way botocore's QueryParser reads them.

A result is plain data keyed by the output shape's member names. Members appear in model
order; None members (and None items) are left out, as AWS omits unset members. Lists are
`<Name><member>..</member></Name>` (the item's locationName when the model gives one;
repeated `<Name>` elements when the list is flattened), maps `<entry><key/><value/></entry>`.
Timestamps are ISO 8601 in UTC with a `Z`, booleans `true`/`false`, blobs base64.

XML 1.0 cannot carry every string: control characters other than tab, LF and CR, lone
surrogates and U+FFFE/U+FFFF have no spelling, not even as character references. They are
written as U+FFFD, so a response is always well-formed. CR is written `&#13;`, since a parser
turns a literal CR (or CRLF) into LF.
"""

from __future__ import annotations

import base64
import enum
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from berth.api.query.form import member_key

if TYPE_CHECKING:  # annotations only: botocore's model module is not needed to serve
    from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL = re.compile("[&<>\r]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def text(value: str) -> str:
    """`value` as XML character data."""
    value = _NOT_XML.sub("\ufffd", value)
    return _SPECIAL.sub(lambda match: _ESCAPES[match[0]], value)


def attribute(value: str) -> str:
    return text(value).replace('"', "&quot;")


def response(
    operation: OperationModel, xmlns: str, result: Mapping[str, Any], request_id: str
) -> bytes:
    name = operation.name
    parts = [f'<{name}Response xmlns="{attribute(xmlns)}">']
    shape = operation.output_shape
    if shape is None:
        if any(value is not None for value in result.values()):
            raise ValueError(f"{name} has no output, but the result has {sorted(result)}")
    else:
        wrapper = shape.serialization.get("resultWrapper")
        if wrapper:
            parts.append(f"<{wrapper}>")
        _members(shape, result, parts)
        if wrapper:
            parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{text(request_id)}</RequestId></ResponseMetadata>")
    parts.append(f"</{name}Response>")
    return "".join(parts).encode()


def error(xmlns: str, code: str, message: str, request_id: str, *, sender: bool) -> bytes:
    return (
        f'<ErrorResponse xmlns="{attribute(xmlns)}"><Error>'
        f"<Type>{'Sender' if sender else 'Receiver'}</Type>"
        f"<Code>{text(code)}</Code><Message>{text(message)}</Message>"
        f"</Error><RequestId>{text(request_id)}</RequestId></ErrorResponse>"
    ).encode()


def _members(shape: Shape, value: Any, parts: list[str]) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{shape.name} needs a mapping, not {type(value).__name__}")
    members = shape.members
    unknown = [key for key in value if key not in members]
    if unknown:
        # A misspelt member would silently vanish from the response: fail loudly instead.
        raise ValueError(f"{shape.name} has no member {unknown[0]!r}")
    for name, member in members.items():
        item = value.get(name)
        if item is not None:
            _element(member_key(member, name), member, item, parts)


def _element(tag: str, shape: Shape, value: Any, parts: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        parts.append(f"<{tag}>")
        _members(shape, value, parts)
        parts.append(f"</{tag}>")
    elif kind == "list":
        _list(tag, shape, value, parts)
    elif kind == "map":
        _map(tag, shape, value, parts)
    else:
        parts.append(f"<{tag}>{text(_scalar(shape, value))}</{tag}>")


def _list(tag: str, shape: Shape, value: Any, parts: list[str]) -> None:
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(f"{shape.name} needs a list, not {type(value).__name__}")
    member = shape.member
    items = [item for item in value if item is not None]
    if shape.serialization.get("flattened"):
        # Each item is an element named like the list itself (`tag` is already the
        # item's locationName when it has one).
        for item in items:
            _element(tag, member, item, parts)
        return
    item_tag = member.serialization.get("name", "member")
    parts.append(f"<{tag}>")
    for item in items:
        _element(item_tag, member, item, parts)
    parts.append(f"</{tag}>")


def _map(tag: str, shape: Shape, value: Any, parts: list[str]) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{shape.name} needs a mapping, not {type(value).__name__}")
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    flattened = shape.serialization.get("flattened")
    if not flattened:
        parts.append(f"<{tag}>")
    for key, item in value.items():
        if item is None:
            continue
        parts.append(f"<{tag}>" if flattened else "<entry>")
        _element(key_tag, shape.key, key, parts)
        _element(value_tag, shape.value, item, parts)
        parts.append(f"</{tag}>" if flattened else "</entry>")
    if not flattened:
        parts.append(f"</{tag}>")


def _scalar(shape: Shape, value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    kind = shape.type_name
    if kind in ("string", "character") and isinstance(value, str):
        return value
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if (
        kind in ("float", "double")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return _float(float(value))
    if kind == "timestamp" and isinstance(value, datetime):
        return _timestamp(shape, value)
    if kind == "blob" and isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{shape.name} ({kind}) cannot be {type(value).__name__} {value!r}")


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _timestamp(shape: Shape, value: datetime) -> str:
    # A naive datetime is taken as UTC, which is what the storage layer hands out.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    style = shape.serialization.get("timestampFormat", "iso8601")
    if style == "unixTimestamp":
        return _float(aware.timestamp()).removesuffix(".0")
    if style == "rfc822":
        return format_datetime(aware, usegmt=True)
    # AWS writes milliseconds; finer times keep their microseconds rather than lose them.
    micro = aware.microsecond
    if micro == 0:
        fraction = ""
    elif micro % 1000 == 0:
        fraction = f".{micro // 1000:03d}"
    else:
        fraction = f".{micro:06d}"
    # isoformat, unlike strftime, pads years before 1000 to four digits.
    return aware.replace(microsecond=0, tzinfo=None).isoformat() + fraction + "Z"
