"""Upload ids carry the repository they were started in, and when."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from berth.domain.upload_ids import is_upload_id, new_upload_id, started_in

CREATED = datetime(2026, 12, 7, 16, 45, 1, 123456, tzinfo=UTC)


@pytest.mark.parametrize("repository_id", [1, 2, 7, 2**31, 2**62])
def test_an_id_is_a_uuid_known_in_its_repository_only(repository_id: int) -> None:
    upload_id = new_upload_id(repository_id, CREATED)
    assert str(uuid.UUID(upload_id)) == upload_id
    assert uuid.UUID(upload_id).version == 4
    assert started_in(upload_id, repository_id, CREATED)
    for other in (repository_id - 1, repository_id + 1, 0, -repository_id):
        assert not started_in(upload_id, other, CREATED)


def test_a_repository_created_later_under_the_same_id_does_not_know_it() -> None:
    upload_id = new_upload_id(5, CREATED)
    for later in (timedelta(microseconds=1), timedelta(seconds=1), timedelta(days=400)):
        assert not started_in(upload_id, 5, CREATED + later)
    # The same moment in another time zone is the same repository.
    assert started_in(upload_id, 5, CREATED.astimezone(timezone(timedelta(hours=9))))


def test_ids_differ_and_a_changed_character_names_nothing() -> None:
    ids = {new_upload_id(3, CREATED) for _ in range(1000)}
    assert len(ids) == 1000
    upload_id = ids.pop()
    # The random half, the version digit, the check quarter, the time quarter.
    for position in (0, 14, 24, 35):
        digit = upload_id[position]
        changed = upload_id[:position] + ("0" if digit != "0" else "1") + upload_id[position + 1 :]
        assert not started_in(changed, 3, CREATED)


def test_a_plain_random_uuid_is_not_an_upload_of_any_repository() -> None:
    plain = [str(uuid.uuid4()) for _ in range(200)]
    assert not any(started_in(u, r, CREATED) for u in plain for r in range(1, 6))


def test_an_id_says_when_it_was_started_to_the_second() -> None:
    upload_id = new_upload_id(5, CREATED, now=1_800_000_000.7)
    assert started_in(upload_id, 5, CREATED) == 1_800_000_000.0
    assert started_in(new_upload_id(5, CREATED), 5, CREATED) is not None
    # Another start time written over the last quarter no longer matches the check.
    raw = uuid.UUID(upload_id).bytes
    moved = str(uuid.UUID(bytes=raw[:12] + (1_700_000_000).to_bytes(4, "big")))
    assert started_in(moved, 5, CREATED) is None


@pytest.mark.parametrize(
    "value",
    [
        "6f1c2a9e-8d4b-4c1a-9e2f-0123456789ab",
        "6F1C2A9E-8D4B-4C1A-9E2F-0123456789AB",
        "6f1c2a9e8d4b4c1a9e2f0123456789ab",
        "{6f1c2a9e-8d4b-4c1a-9e2f-0123456789ab}",
        "6f1c2a9e-8d4b-4c1a-9e2f-0123456789ab\n",
        "urn:uuid:6f1c2a9e-8d4b-4c1a-9e2f-0123456789ab",
        "6f1c2a9e-8d4b-4c1a-9e2f-0123456789a",
        "",
    ],
)
def test_only_the_canonical_form_is_an_upload_id(value: str) -> None:
    canonical = True
    try:
        canonical = str(uuid.UUID(value)) == value
    except ValueError:
        canonical = False
    assert is_upload_id(value) == canonical
    assert is_upload_id(value) == (value == "6f1c2a9e-8d4b-4c1a-9e2f-0123456789ab")
