"""The server key and what is derived from it: sealing of stored secrets, token keys.

One random master key per installation: from `BERTH_SECRET_KEY` (base64, the same on every node
of a scaled-out installation) or, on a single node, generated into the data folder with 0600
permissions. Purposes get keys of their own through HKDF, so a leak of one is not a leak of all.

`cryptography` (whose Rust extension is about 8 MB of every process that loads it) is imported
by the first seal or open, not with this module: HKDF-SHA256 is a few lines over the standard
library's HMAC, and a process that never opens a sealed value need not hold AES at all.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12
_AES_KEY_BYTES = (16, 24, 32)


class InvalidTag(ValueError):
    """A sealed value that does not open: altered, sealed with another key, or for another
    context."""


def load_master_key(configured: str, data_dir: Path) -> bytes:
    """The configured key, else the data folder's key file, created on first use."""
    if configured:
        return decode_key(configured.encode(), "secret_key")
    path = data_dir / "secret.key"
    try:
        return decode_key(path.read_bytes(), str(path))
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(MASTER_KEY_BYTES)
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(path.read_bytes(), str(path))
    with os.fdopen(fd, "wb") as file:
        file.write(base64.b64encode(key))
        file.flush()
        os.fsync(file.fileno())
    return key


def decode_key(encoded: bytes, source: str) -> bytes:
    """A base64 master key of at least MASTER_KEY_BYTES, or ValueError naming `source`."""
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise ValueError(f"{source} is not valid base64") from None
    if len(key) < MASTER_KEY_BYTES:
        raise ValueError(f"{source} must hold at least {MASTER_KEY_BYTES} bytes")
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) of `master`, without salt, `purpose` as info: 32 bytes."""
    pseudorandom = hmac.digest(bytes(32), master, "sha256")  # no salt: SHA-256's size in zeros
    # 32 bytes are the first and only block of the expansion: T(1) = HMAC(PRK, info | 0x01).
    return hmac.digest(pseudorandom, purpose.encode() + b"\x01", "sha256")


class Sealer:
    """AES-GCM with a random nonce; `context` binds a sealed value to where it is stored.
    `open` raises InvalidTag (a ValueError) for a value that does not open."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in _AES_KEY_BYTES:  # as AESGCM would say, before it is loaded
            raise ValueError("AESGCM key must be 128, 192, or 256 bits.")
        self._key = key

    @cached_property
    def _aead(self) -> AESGCM:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        from cryptography import exceptions

        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode()
            )
        except exceptions.InvalidTag:
            raise InvalidTag("the sealed value does not open") from None
