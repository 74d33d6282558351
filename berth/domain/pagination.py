"""Opaque `nextToken`s: where a listing stopped, as the client must hand it back unchanged."""

from __future__ import annotations

import base64
import json

from berth.errors import InvalidParameter


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidParameter("Invalid parameter at 'nextToken': the token is not valid") from None
    if not isinstance(after, str):
        raise InvalidParameter("Invalid parameter at 'nextToken': the token is not valid")
    return after
