"""Content digests (`algorithm:encoded`) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from berth.errors import InvalidDigest, UnsupportedDigest

if TYPE_CHECKING:
    from hashlib import _Hash

_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_ENCODED = {"sha256": re.compile(r"^[a-f0-9]{64}$"), "sha512": re.compile(r"^[a-f0-9]{128}$")}
ALGORITHMS = tuple(_ENCODED)


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    def hasher(self) -> _Hash:
        return hashlib.new(self.algorithm)


def parse_digest(value: str) -> Digest:
    """Parse strictly: a well-formed digest of an unsupported algorithm is `UnsupportedDigest`."""
    if len(value) > 256 or not _GRAMMAR.fullmatch(value):
        raise InvalidDigest(f"invalid digest {value[:80]!r}")
    algorithm, encoded = value.split(":", 1)
    pattern = _ENCODED.get(algorithm)
    if pattern is None:
        raise UnsupportedDigest(f"unsupported digest algorithm {algorithm!r}")
    if not pattern.fullmatch(encoded):
        raise InvalidDigest(f"invalid {algorithm} digest {value[:80]!r}")
    return Digest(algorithm, encoded)


def is_digest(reference: str) -> bool:
    """True when a manifest reference is meant as a digest rather than a tag."""
    return ":" in reference


def digest_of(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
