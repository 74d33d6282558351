"""AWS JSON 1.1 response bodies: what handlers return, encoded the way botocore parses it."""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

CONTENT_TYPE = "application/x-amz-json-1.1"
REQUEST_ID = "x-amzn-RequestId"


def encode(value: Any) -> Any:
    """`value` as plain JSON data: datetimes become epoch seconds (the JSON 1.1 timestamp
    format), bytes become base64, enums their value; None members are left out, as AWS omits
    unset members rather than sending null."""
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        # A naive datetime is taken as UTC, which is what the storage layer hands out.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value if item is not None]
    raise TypeError(f"cannot encode {type(value).__name__} as AWS JSON")


def dumps(body: Mapping[str, Any]) -> bytes:
    return json.dumps(encode(body), separators=(",", ":"), allow_nan=False).encode()


def response(
    body: Mapping[str, Any], request_id: str, status: int = 200, *, headers: Mapping[str, str] = {}
) -> web.Response:
    return web.Response(
        status=status,
        body=dumps(body),
        headers={"Content-Type": CONTENT_TYPE, REQUEST_ID: request_id, **headers},
    )
