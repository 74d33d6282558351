"""Upload ids that name the repository their upload was started in, and when.

Starting an upload writes nothing: no database row, no file. The row appears with the upload's
first committed bytes, and a small blob sent whole in one request never needs a file at all.
Until then the id itself is the upload: a UUID whose first half is random, whose third quarter
is a hash of that half, the repository's id and creation time and the start time, and whose
last quarter is the start time in seconds. An id handed out for one repository is unknown in
every other, a repository created later under the same id included (SQLite gives a new row the
largest id plus one: the id of a deleted repository that had the largest), and an id older than
the upload lifetime is unknown everywhere, so nothing has to be kept to expire it.

No secret is needed. A client that computes an id of its own for a repository has started an
upload there, which it could have done with a POST: only a principal allowed to push to that
repository can use it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_upload_id(repository_id: int, created_at: datetime, now: float | None = None) -> str:
    """An id for an upload started now in the repository with this id and (aware) creation
    time; `now` (epoch seconds) is for tests."""
    random_half = bytearray(os.urandom(8))
    random_half[6] = (random_half[6] & 0x0F) | 0x40  # version 4
    started = int(time.time() if now is None else now) & 0xFFFFFFFF
    return _id(bytes(random_half), started, repository_id, created_at)


def started_in(upload_id: str, repository_id: int, created_at: datetime) -> float | None:
    """When `upload_id` (a canonical UUID string: see `is_upload_id`) was handed out for that
    repository (epoch seconds), or None when it was not."""
    raw = bytes.fromhex(upload_id.replace("-", ""))
    started = int.from_bytes(raw[12:], "big")
    if _id(raw[:8], started, repository_id, created_at) != upload_id:
        return None
    return float(started)


def is_upload_id(value: str) -> bool:
    """Whether `value` is a UUID in canonical form (lowercase, with its hyphens)."""
    return _CANONICAL.fullmatch(value) is not None


def _id(random_half: bytes, started: int, repository_id: int, created_at: datetime) -> str:
    created = (created_at - _EPOCH) // timedelta(microseconds=1)  # exact, unlike a float
    stamp = started.to_bytes(4, "big")
    repository = b"".join(n.to_bytes(8, "big", signed=True) for n in (repository_id, created))
    check = bytearray(hashlib.sha256(random_half + stamp + repository).digest()[:4])
    check[0] = (check[0] & 0x3F) | 0x80  # the UUID's variant, over two bits of the check
    # Formatted here: building a uuid.UUID and its str() cost more than the hash.
    h = (random_half + check + stamp).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
