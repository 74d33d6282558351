"""Sealing and key derivation: the same bytes as `cryptography`'s HKDF and AES-GCM, so values
sealed before `berth.storage.crypto` loaded `cryptography` lazily still open."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from berth.storage.crypto import InvalidTag, Sealer, derive_key


@pytest.mark.parametrize("size", [32, 48, 64])
@pytest.mark.parametrize("purpose", ["", "berth/access-key-secrets/v1", "é/ü"])
def test_derive_key_is_hkdf_sha256(size: int, purpose: str) -> None:
    master = os.urandom(size)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    assert derive_key(master, purpose) == hkdf.derive(master)


def test_rfc_5869_test_case_3() -> None:
    # No salt, no info; the first 32 bytes of the 42-byte OKM.
    okm = derive_key(bytes.fromhex("0b" * 22), "")
    assert okm.hex() == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"


def test_sealed_values_open_in_their_context_only() -> None:
    sealer = Sealer(derive_key(os.urandom(32), "test"))
    sealed = sealer.seal(b"secret", "AKIAEXAMPLE")
    assert sealer.open(sealed, "AKIAEXAMPLE") == b"secret"
    with pytest.raises(InvalidTag):
        sealer.open(sealed, "AKIAOTHER")
    with pytest.raises(ValueError):  # what callers catch
        sealer.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), "AKIAEXAMPLE")
    with pytest.raises(InvalidTag):
        Sealer(os.urandom(32)).open(sealed, "AKIAEXAMPLE")


def test_the_format_is_nonce_then_aes_gcm() -> None:
    key = os.urandom(32)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, b"stored earlier", b"context")
    assert Sealer(key).open(sealed, "context") == b"stored earlier"
    mine = Sealer(key).seal(b"stored now", "context")
    assert AESGCM(key).decrypt(mine[:12], mine[12:], b"context") == b"stored now"


def test_key_sizes() -> None:
    for size in (16, 24, 32):
        Sealer(bytes(size))
    with pytest.raises(ValueError, match="128, 192, or 256 bits"):
        Sealer(bytes(20))
