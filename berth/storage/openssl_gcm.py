"""AES-GCM from the OpenSSL library the interpreter has loaded already (for `hashlib` and
`ssl`), through ctypes: the same EVP calls `cryptography` makes, without its Rust extension,
which bundles a second OpenSSL and costs about 9 MB of every process that loads it.

`load()` gives None where that library cannot be reached (an interpreter whose `_hashlib` is
linked statically, or not against OpenSSL); `berth.storage.crypto` then uses `cryptography`.
"""

from __future__ import annotations

import ctypes
from typing import Any

from berth.storage.crypto import InvalidTag

TAG_BYTES = 16
# EVP_CIPHER_CTX_ctrl commands for GCM (openssl/evp.h; unchanged since OpenSSL 1.0.1).
_SET_IVLEN = 0x9
_GET_TAG = 0x10
_SET_TAG = 0x11
_MAX_LENGTH = 2**31 - 1  # lengths are C ints


class OpenSsl:
    """The EVP functions AES-GCM needs, from one loaded library."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        ptr, cint, intp = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)

        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            f = getattr(lib, name)
            f.restype, f.argtypes = restype, argtypes
            return f

        self.ctx_new = fn("EVP_CIPHER_CTX_new", ptr)
        self.ctx_free = fn("EVP_CIPHER_CTX_free", None, ptr)
        self.ctx_ctrl = fn("EVP_CIPHER_CTX_ctrl", cint, ptr, cint, cint, ptr)
        self.ciphers = {
            16: fn("EVP_aes_128_gcm", ptr)(),
            24: fn("EVP_aes_192_gcm", ptr)(),
            32: fn("EVP_aes_256_gcm", ptr)(),
        }
        init = (ptr, ptr, ptr, ctypes.c_char_p, ctypes.c_char_p)
        update = (ptr, ptr, intp, ctypes.c_char_p, cint)
        self.encrypt_init = fn("EVP_EncryptInit_ex", cint, *init)
        self.encrypt_update = fn("EVP_EncryptUpdate", cint, *update)
        self.encrypt_final = fn("EVP_EncryptFinal_ex", cint, ptr, ptr, intp)
        self.decrypt_init = fn("EVP_DecryptInit_ex", cint, *init)
        self.decrypt_update = fn("EVP_DecryptUpdate", cint, *update)
        self.decrypt_final = fn("EVP_DecryptFinal_ex", cint, ptr, ptr, intp)


def load() -> OpenSsl | None:
    """The interpreter's OpenSSL, or None when it cannot be reached."""
    try:
        import _hashlib

        # Symbols are looked up in `_hashlib` and the libraries it was linked against.
        return OpenSsl(ctypes.CDLL(_hashlib.__file__))
    except (ImportError, OSError, AttributeError):
        return None


class AesGcm:
    """`cryptography`'s AESGCM, positionally: `encrypt(nonce, data, aad)` is the ciphertext
    and its 16-byte tag; `decrypt` raises InvalidTag for anything that does not open."""

    def __init__(self, ssl: OpenSsl, key: bytes) -> None:
        if len(key) not in ssl.ciphers:
            raise ValueError("AESGCM key must be 128, 192, or 256 bits.")
        self._ssl = ssl
        self._key = bytes(key)
        self._cipher = ssl.ciphers[len(key)]

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        nonce, data, aad = _check(nonce, data, aad)
        ssl = self._ssl
        ctx = ssl.ctx_new()
        if not ctx:
            raise MemoryError("EVP_CIPHER_CTX_new")
        try:
            out = ctypes.create_string_buffer(len(data) + TAG_BYTES)
            start, end = ctypes.addressof(out), ctypes.addressof(out) + len(data)
            n = ctypes.c_int(0)
            _ok(ssl.encrypt_init(ctx, self._cipher, None, None, None))
            _ok(ssl.ctx_ctrl(ctx, _SET_IVLEN, len(nonce), None))
            _ok(ssl.encrypt_init(ctx, None, None, self._key, nonce))
            _ok(ssl.encrypt_update(ctx, None, ctypes.byref(n), aad, len(aad)))
            _ok(ssl.encrypt_update(ctx, start, ctypes.byref(n), data, len(data)))
            if n.value != len(data):  # GCM is a stream mode: nothing is held back
                raise RuntimeError("EVP_EncryptUpdate wrote a short block")
            _ok(ssl.encrypt_final(ctx, end, ctypes.byref(n)))
            _ok(ssl.ctx_ctrl(ctx, _GET_TAG, TAG_BYTES, end))  # the tag after the ciphertext
            return out.raw
        finally:
            ssl.ctx_free(ctx)

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        nonce, data, aad = _check(nonce, data, aad)
        if len(data) < TAG_BYTES:
            raise InvalidTag("the sealed value does not open")
        ciphertext, tag = data[:-TAG_BYTES], data[-TAG_BYTES:]
        ssl = self._ssl
        ctx = ssl.ctx_new()
        if not ctx:
            raise MemoryError("EVP_CIPHER_CTX_new")
        try:
            out = ctypes.create_string_buffer(len(ciphertext) + TAG_BYTES)
            start = ctypes.addressof(out)
            n = ctypes.c_int(0)
            _ok(ssl.decrypt_init(ctx, self._cipher, None, None, None))
            _ok(ssl.ctx_ctrl(ctx, _SET_IVLEN, len(nonce), None))
            _ok(ssl.decrypt_init(ctx, None, None, self._key, nonce))
            _ok(ssl.decrypt_update(ctx, None, ctypes.byref(n), aad, len(aad)))
            _ok(ssl.decrypt_update(ctx, start, ctypes.byref(n), ciphertext, len(ciphertext)))
            if n.value != len(ciphertext):
                raise RuntimeError("EVP_DecryptUpdate wrote a short block")
            expected = ctypes.create_string_buffer(tag, TAG_BYTES)
            _ok(ssl.ctx_ctrl(ctx, _SET_TAG, TAG_BYTES, ctypes.addressof(expected)))
            # The tag is checked here: nothing decrypted is returned unless it matches.
            if ssl.decrypt_final(ctx, start + len(ciphertext), ctypes.byref(n)) != 1:
                raise InvalidTag("the sealed value does not open")
            return out.raw[: len(ciphertext)]
        finally:
            ssl.ctx_free(ctx)


def _check(nonce: bytes, data: bytes, aad: bytes) -> tuple[bytes, bytes, bytes]:
    # As `cryptography` checks them, with its messages; any bytes-like value, as bytes.
    nonce, data, aad = bytes(nonce), bytes(data), bytes(aad)
    if not 8 <= len(nonce) <= 128:
        raise ValueError("Nonce must be between 8 and 128 bytes")
    if len(data) > _MAX_LENGTH or len(aad) > _MAX_LENGTH:
        raise OverflowError("Data or associated data too long. Max 2**31 - 1 bytes")
    return nonce, data, aad


def _ok(result: int) -> None:
    if result != 1:
        raise RuntimeError("OpenSSL refused an AES-GCM step")
