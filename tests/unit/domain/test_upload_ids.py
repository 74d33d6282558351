"""Upload ids carry the repository they were started in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from berth.domain.upload_ids import new_upload_id, started_in

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
    for position in (0, 14, 24, 35):  # the random half, the version digit, the check half
        digit = upload_id[position]
        changed = upload_id[:position] + ("0" if digit != "0" else "1") + upload_id[position + 1 :]
        assert not started_in(changed, 3, CREATED)


def test_a_plain_random_uuid_is_not_an_upload_of_any_repository() -> None:
    plain = [str(uuid.uuid4()) for _ in range(200)]
    assert not any(started_in(u, r, CREATED) for u in plain for r in range(1, 6))
