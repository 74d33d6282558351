from __future__ import annotations

import hashlib

import pytest

from berth.domain.digests import Digest, digest_of, is_digest, parse_digest
from berth.errors import InvalidDigest, UnsupportedDigest

SHA256 = "sha256:" + hashlib.sha256(b"x").hexdigest()
SHA512 = "sha512:" + hashlib.sha512(b"x").hexdigest()


@pytest.mark.parametrize("value", [SHA256, SHA512])
def test_round_trip(value: str) -> None:
    assert str(parse_digest(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha256:",
        ":abc",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha512:" + "a" * 64,
        "SHA256:" + "a" * 64,
        "sha256:" + "a" * 63 + "g",
        "sha256 :" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",
        "x" * 300,
    ],
)
def test_malformed(value: str) -> None:
    with pytest.raises(InvalidDigest):
        parse_digest(value)


@pytest.mark.parametrize("value", ["md5:" + "a" * 32, "blake3:" + "a" * 64, "sha256+b64u:abc"])
def test_unsupported_algorithm(value: str) -> None:
    with pytest.raises(UnsupportedDigest):
        parse_digest(value)


def test_digest_of_and_hasher() -> None:
    assert str(digest_of(b"x")) == SHA256
    assert str(digest_of(b"x", "sha512")) == SHA512
    hasher = Digest("sha512", "").hasher()
    hasher.update(b"x")
    assert hasher.hexdigest() == SHA512.split(":")[1]


def test_is_digest() -> None:
    assert is_digest(SHA256)
    assert not is_digest("latest")
