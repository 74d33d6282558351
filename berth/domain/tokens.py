"""Registry passwords for `/v2/` logins: what `aws ecr get-login-password` prints, and what
`GetAuthorizationToken` returns as base64("AWS:<password>").

A password is stateless: its claims sealed with HMAC-SHA256 under a server key, so any Berth
process holding the key checks one without a store look-up, and rotating keys is a list whose
first entry mints. Layout: `v1.<claims>.<mac>`, both parts base64url without padding, so the
password survives docker's and podman's credential stores and `user:password` encodings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from berth.errors import BerthError

VERSION = "v1"
MIN_KEY_BYTES = 32
# Generous for an ARN-bearing v1 token (typically ~300 characters), small enough that hashing a
# hostile password costs nothing.
MAX_PASSWORD_CHARS = 4096
# Keeps these MACs from ever being confused with another use of the same server key.
_CONTEXT = b"berth registry token\x00"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class TokenError(BerthError):
    pass


class InvalidToken(TokenError):
    """Malformed, tampered with, or sealed under a key this server does not hold."""

    def __init__(self, message: str = "Your authorization token is invalid.") -> None:
        super().__init__(message)


class ExpiredToken(TokenError):
    def __init__(
        self, message: str = "Your authorization token has expired. Reauthenticate and try again."
    ) -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RegistryToken:
    """Who logged in and for how long; times are whole seconds once sealed."""

    access_key_id: str
    account_id: str
    principal_arn: str
    issued_at: datetime
    expires_at: datetime
    # The region GetAuthorizationToken was called in: the registry a plain host such as
    # `localhost:5000` addresses for this login.
    region: str = "us-east-1"
    # For a role session's login: the role (with its path), which the session ARN lacks.
    role_arn: str = ""


def mint(token: RegistryToken, key: bytes) -> str:
    _check_key(key)
    claims = [
        token.access_key_id,
        token.account_id,
        token.principal_arn,
        _seconds(token.issued_at),
        _seconds(token.expires_at),
        token.region,
    ]
    if token.role_arn:
        claims.append(token.role_arn)
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    sealed = f"{VERSION}.{_b64encode(payload)}"
    password = f"{sealed}.{_mac(key, sealed)}"
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError("token claims too long")
    return password


def open_token(password: str, key: bytes | Sequence[bytes], *, now: datetime) -> RegistryToken:
    """The claims of a password minted under any of `key` (the current key first when a list),
    or InvalidToken / ExpiredToken. A token is expired from its `expires_at` on."""
    keys = [key] if isinstance(key, bytes) else list(key)
    if not keys:
        raise ValueError("at least one key is needed")
    for each in keys:
        _check_key(each)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        raise InvalidToken()
    parts = password.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not all(_B64URL.fullmatch(p) for p in parts):
        raise InvalidToken()
    sealed = f"{parts[0]}.{parts[1]}"
    # Try every key whatever the outcome, so timing shows neither which key matched nor how much
    # of a MAC was right.
    matched = False
    for each in keys:
        matched |= hmac.compare_digest(_mac(each, sealed).encode(), parts[2].encode())
    if not matched:
        raise InvalidToken()

    # Only authentic claims get here, so a failure below means a format bug, not an attacker;
    # it is still reported as an invalid token rather than a crash.
    try:
        claims = json.loads(_b64decode(parts[1]))
        access_key_id, account_id, principal_arn, issued, expires, region, *rest = claims
        if len(rest) > 1:
            raise ValueError("claims")
        role_arn = rest[0] if rest else ""
        strings = (access_key_id, account_id, principal_arn, region, role_arn)
        if not all(isinstance(v, str) for v in strings):
            raise ValueError("claims")
        token = RegistryToken(
            access_key_id,
            account_id,
            principal_arn,
            _moment(issued),
            _moment(expires),
            region,
            role_arn,
        )
    except (ValueError, TypeError, OverflowError, OSError, binascii.Error):
        raise InvalidToken() from None
    if now >= token.expires_at:
        raise ExpiredToken()
    return token


def parse_basic(header_value: str) -> tuple[str, str]:
    """`Authorization: Basic base64(user:password)` as (user, password); the password keeps
    any further colons. Credentials are UTF-8 (RFC 7617's only defined charset)."""
    scheme, _, credentials = header_value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "basic" or not credentials or len(credentials) > 2 * MAX_PASSWORD_CHARS:
        raise InvalidToken()
    try:
        # Some clients drop the padding; a stray character is still an error.
        padded = credentials + "=" * (-len(credentials) % 4)
        text = base64.b64decode(padded, validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        raise InvalidToken() from None
    user, colon, password = text.partition(":")
    if not colon:
        raise InvalidToken()
    return user, password


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a token key must be at least {MIN_KEY_BYTES} bytes")


def _mac(key: bytes, sealed: str) -> str:
    return _b64encode(hmac.new(key, _CONTEXT + sealed.encode("ascii"), hashlib.sha256).digest())


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("token times must be timezone-aware")
    return int(moment.replace(microsecond=0).timestamp())


def _moment(seconds: object) -> datetime:
    # bool is an int to Python but never a time here.
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise TypeError("time")
    return datetime.fromtimestamp(seconds, UTC)
