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
import time
import uuid
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_upload_id(repository_id: int, created_at: datetime, now: float | None = None) -> str:
    """An id for an upload started now in the repository with this id and (aware) creation
    time; `now` (epoch seconds) is for tests."""
    random_half = uuid.UUID(bytes=os.urandom(8) + bytes(8), version=4).bytes[:8]
    started = int(time.time() if now is None else now) & 0xFFFFFFFF
    return _id(random_half, started, repository_id, created_at)


def started_in(upload_id: str, repository_id: int, created_at: datetime) -> float | None:
    """When `upload_id` (a canonical UUID string) was handed out for that repository (epoch
    seconds), or None when it was not."""
    raw = uuid.UUID(upload_id).bytes
    started = int.from_bytes(raw[12:], "big")
    if _id(raw[:8], started, repository_id, created_at) != upload_id:
        return None
    return float(started)


def _id(random_half: bytes, started: int, repository_id: int, created_at: datetime) -> str:
    created = (created_at - _EPOCH) // timedelta(microseconds=1)  # exact, unlike a float
    stamp = started.to_bytes(4, "big")
    repository = b"".join(n.to_bytes(8, "big", signed=True) for n in (repository_id, created))
    check = hashlib.sha256(random_half + stamp + repository).digest()
    # The UUID's variant bits overwrite two bits of the check, never of the time.
    return str(uuid.UUID(bytes=random_half + check[:4] + stamp, version=4))
