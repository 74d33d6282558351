"""Upload ids that name the repository their upload was started in.

Starting an upload writes no database row: the row appears with the upload's first committed
bytes. Until then the id itself tells which repository may write to the upload. It is a UUID
whose first half is random and whose second half is a hash of that half and the repository's
id and creation time, so an id handed out for one repository is unknown in every other, a
repository created later under the same id included (SQLite gives a new row the largest id
plus one: the id of a deleted repository that had the largest).

No secret is needed: the server picks the random half, and an upload exists only under an id
it handed out; a client that learnt another repository's upload id cannot make it match its own
repository without changing the id, which then names no upload.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_upload_id(repository_id: int, created_at: datetime) -> str:
    """An id for an upload started in the repository with this id and (aware) creation time."""
    random_half = uuid.UUID(bytes=os.urandom(8) + bytes(8), version=4).bytes[:8]
    return _id(random_half, repository_id, created_at)


def started_in(upload_id: str, repository_id: int, created_at: datetime) -> bool:
    """Whether `upload_id` (a canonical UUID string) was handed out for that repository."""
    return _id(uuid.UUID(upload_id).bytes[:8], repository_id, created_at) == upload_id


def _id(random_half: bytes, repository_id: int, created_at: datetime) -> str:
    created = (created_at - _EPOCH) // timedelta(microseconds=1)  # exact, unlike a float
    repository = b"".join(n.to_bytes(8, "big", signed=True) for n in (repository_id, created))
    check = hashlib.sha256(random_half + repository).digest()
    return str(uuid.UUID(bytes=random_half + check[:8], version=4))
