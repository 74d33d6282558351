"""Sealing and key derivation: the same bytes as `cryptography`'s HKDF and AES-GCM, so values
sealed before Berth stopped loading `cryptography` for them still open."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from berth.storage import crypto, openssl_gcm
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


# --- AES-GCM over the interpreter's OpenSSL ------------------------------------------------------

# McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 1, 2, 13 and 14: zero keys
# and 12-byte zero IVs, no associated data; (key bytes, plaintext, ciphertext + tag).
KNOWN = [
    (16, "", "58e2fccefa7e3061367f1d57a4e7455a"),
    (16, "00" * 16, "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"),
    (32, "", "530f8afbc74536b9a963b4f1c4cb738b"),
    (32, "00" * 16, "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
]


def _openssl_gcm(key: bytes) -> openssl_gcm.AesGcm:
    ssl = openssl_gcm.load()
    assert ssl is not None, "the interpreter's OpenSSL is reachable on the platforms Berth runs on"
    return openssl_gcm.AesGcm(ssl, key)


@pytest.mark.parametrize(("key_bytes", "plaintext", "expected"), KNOWN)
def test_openssl_gcm_known_answers(key_bytes: int, plaintext: str, expected: str) -> None:
    aead = _openssl_gcm(bytes(key_bytes))
    assert aead.encrypt(bytes(12), bytes.fromhex(plaintext), b"").hex() == expected
    assert aead.decrypt(bytes(12), bytes.fromhex(expected), b"") == bytes.fromhex(plaintext)


@pytest.mark.parametrize("key_bytes", [16, 24, 32])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
@pytest.mark.parametrize("nonce_bytes", [8, 12, 16, 128])
def test_openssl_gcm_is_byte_for_byte_cryptographys(
    key_bytes: int, size: int, nonce_bytes: int
) -> None:
    key, nonce, data = os.urandom(key_bytes), os.urandom(nonce_bytes), os.urandom(size)
    aad = os.urandom(size % 40)
    ours, theirs = _openssl_gcm(key), AESGCM(key)
    sealed = ours.encrypt(nonce, data, aad)
    assert sealed == theirs.encrypt(nonce, data, aad)
    assert theirs.decrypt(nonce, sealed, aad) == data
    assert ours.decrypt(nonce, sealed, aad) == data
    assert ours.decrypt(memoryview(nonce), bytearray(sealed), memoryview(aad)) == data


def test_openssl_gcm_opens_nothing_altered() -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    aead = _openssl_gcm(key)
    sealed = aead.encrypt(nonce, b"a secret access key", b"AKIAEXAMPLE")
    for i in range(len(sealed)):  # every byte of the ciphertext and of the tag
        altered = bytearray(sealed)
        altered[i] ^= 0x80
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, bytes(altered), b"AKIAEXAMPLE")
    for cut in range(len(sealed)):
        with pytest.raises(InvalidTag):
            aead.decrypt(nonce, sealed[:cut], b"AKIAEXAMPLE")
    with pytest.raises(InvalidTag):
        aead.decrypt(nonce, sealed, b"AKIAEXAMPLF")
    with pytest.raises(InvalidTag):
        aead.decrypt(os.urandom(12), sealed, b"AKIAEXAMPLE")
    with pytest.raises(InvalidTag):
        _openssl_gcm(os.urandom(32)).decrypt(nonce, sealed, b"AKIAEXAMPLE")


def test_openssl_gcm_refuses_what_cryptography_refuses() -> None:
    with pytest.raises(ValueError, match="128, 192, or 256 bits"):
        _openssl_gcm(bytes(20))
    for nonce in (bytes(7), bytes(129)):
        with pytest.raises(ValueError, match="Nonce must be between 8 and 128 bytes"):
            _openssl_gcm(bytes(32)).encrypt(nonce, b"x", b"")
        with pytest.raises(ValueError, match="Nonce must be between 8 and 128 bytes"):
            AESGCM(bytes(32)).encrypt(nonce, b"x", b"")


@pytest.mark.parametrize("length", range(30))
def test_short_or_empty_sealed_values_are_value_errors(length: int) -> None:
    with pytest.raises(ValueError):  # what callers catch
        Sealer(os.urandom(32)).open(os.urandom(length), "AKIAEXAMPLE")


def test_without_openssl_cryptography_seals_the_same_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = os.urandom(32)
    with_openssl = Sealer(key)
    sealed_one = with_openssl.seal(b"one", "ctx")  # its AES-GCM chosen now
    monkeypatch.setattr(crypto, "_openssl", lambda: None)
    fallback = Sealer(key)
    assert fallback.open(sealed_one, "ctx") == b"one"
    assert with_openssl.open(fallback.seal(b"two", "ctx"), "ctx") == b"two"
    assert type(with_openssl._aead) is openssl_gcm.AesGcm
    assert type(fallback._aead) is crypto._CryptographyAesGcm
    with pytest.raises(InvalidTag):
        fallback.open(sealed_one, "other")


def test_sealing_loads_no_cryptography() -> None:
    script = (
        "import os, sys\n"
        "from berth.storage.crypto import Sealer\n"
        "s = Sealer(os.urandom(32))\n"
        "assert s.open(s.seal(b'x', 'c'), 'c') == b'x'\n"
        "print(sorted(m for m in sys.modules if m.startswith('cryptography')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
