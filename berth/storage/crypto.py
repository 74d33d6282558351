"""The server key and what is derived from it: sealing of stored secrets, token keys.

One random master key per installation: from `BERTH_SECRET_KEY` (base64, the same on every node
of a scaled-out installation) or, on a single node, generated into the data folder with 0600
permissions. Purposes get keys of their own through HKDF, so a leak of one is not a leak of all.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12


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
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )


class Sealer:
    """AES-GCM with a random nonce; `context` binds a sealed value to where it is stored."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode())
