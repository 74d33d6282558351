"""The filesystem blob store: uploads, atomic commits, and no path outside its folder."""

from __future__ import annotations

import errno
import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest

from berth.storage.blobs.filesystem import SEGMENT, FilesystemBlobStore


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_upload_commit_and_read(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    writer = store.open_upload(upload, 0)
    writer.write(b"hello ")
    writer.write(b"world")
    writer.close()
    assert (tmp_path / "uploads" / upload).stat().st_size == 11
    assert b"".join(store.read_upload(upload, 11)) == b"hello world"
    store.place_upload(upload, digest(b"hello world"))
    path = store.blob_path(digest(b"hello world"))
    assert path.read_bytes() == b"hello world"
    assert path.parent.name == hashlib.sha256(b"hello world").hexdigest()[:2]
    assert not (tmp_path / "uploads" / upload).exists()


def test_reopening_drops_bytes_past_the_offset(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    writer = store.open_upload(upload, 0)
    writer.write(b"acknowledged|never acknowledged")
    writer.close()
    writer = store.open_upload(upload, len(b"acknowledged"))
    writer.write(b"!")
    writer.close()
    assert b"".join(store.read_upload(upload, 13)) == b"acknowledged!"
    assert (tmp_path / "uploads" / upload).stat().st_size == 13


def _append(store: FilesystemBlobStore, upload: str, offset: int, data: bytes) -> int:
    """What the uploads service does: every job `write` returns runs before the next write."""
    writer = store.open_upload(upload, offset)
    jobs = 0
    for start in range(0, len(data), 1 << 20):
        job = writer.write(data[start : start + (1 << 20)])
        if job is not None:
            job()
            jobs += 1
    writer.close()
    return jobs


@pytest.fixture(params=["direct", "page cache"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FilesystemBlobStore:
    store = FilesystemBlobStore(tmp_path)
    store._direct.possible = request.param == "direct"
    return store


def test_large_uploads_resumed_at_unaligned_offsets_keep_every_byte(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(2 * SEGMENT + 12_345)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    # Whole segments go out as jobs; the rest waits for close.
    assert _append(store, upload, 0, data[: SEGMENT + 1000]) == 1
    assert (tmp_path / "uploads" / upload).stat().st_size == SEGMENT + 1000
    # The next chunk starts inside a block that is on disk already, and ends inside another.
    assert _append(store, upload, SEGMENT + 1000, data[SEGMENT + 1000 : 2 * SEGMENT + 77]) == 1
    assert _append(store, upload, 2 * SEGMENT + 77, data[2 * SEGMENT + 77 :]) == 0
    assert (tmp_path / "uploads" / upload).stat().st_size == len(data)
    assert b"".join(store.read_upload(upload, len(data))) == data
    store.place_upload(upload, digest(data))
    assert store.blob_path(digest(data)).read_bytes() == data


def test_an_unacknowledged_tail_is_dropped_whatever_the_writes_went_through(
    store: FilesystemBlobStore,
) -> None:
    data = os.urandom(SEGMENT + 5000)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    _append(store, upload, 0, data)
    _append(store, upload, 4097, b"resumed")
    assert b"".join(store.read_upload(upload, 4097 + 7)) == data[:4097] + b"resumed"
    with pytest.raises(OSError):
        list(store.read_upload(upload, 4097 + 8))


def test_close_writes_what_no_job_did_and_a_late_job_writes_nothing(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    """A request cancelled between handing a job to a thread and the thread starting it: the
    job must not write to a descriptor that is closed (its number may be another file's)."""
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    writer = store.open_upload(upload, 0)
    job = writer.write(b"x" * SEGMENT + b"tail")
    assert job is not None
    writer.close()
    assert b"".join(store.read_upload(upload, SEGMENT + 4)) == b"x" * SEGMENT + b"tail"
    job()
    assert (tmp_path / "uploads" / upload).stat().st_size == SEGMENT + 4


def test_a_file_system_that_refuses_direct_writes_gets_page_cache_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tmpfs did before Linux 6.6: O_DIRECT is accepted by fcntl, its writes are not."""
    import fcntl

    real_pwrite = os.pwrite

    def refusing(fd: int, data: memoryview, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refusing)
    store = FilesystemBlobStore(tmp_path)
    data = os.urandom(SEGMENT * 2 + 3)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    _append(store, upload, 0, data)
    assert b"".join(store.read_upload(upload, len(data))) == data
    assert not store._direct.possible  # remembered: the next upload does not try again


def test_committing_known_content_again_keeps_one_copy(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    for _ in range(2):
        upload = str(uuid.uuid4())
        store.create_upload(upload)
        writer = store.open_upload(upload, 0)
        writer.write(b"same")
        writer.close()
        store.place_upload(upload, digest(b"same"))
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == []
    assert store.blob_path(digest(b"same")).read_bytes() == b"same"


def test_deleting_a_blob_and_finding_stale_uploads(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    store.create_upload(old)
    store.create_upload(new)
    os.utime(tmp_path / "uploads" / old, (1_000, 1_000))
    (tmp_path / "uploads" / "not-an-upload").touch()
    assert store.stale_uploads(older_than=time.time() - 60) == [old]
    store.place_upload(new, digest(b""))
    store.delete_blob(digest(b""))
    assert not store.blob_path(digest(b"")).exists()
    store.delete_blob(digest(b""))  # already gone: not an error


def test_reading_past_the_end_is_an_error(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    with pytest.raises(OSError):
        list(store.read_upload(upload, 1))


@pytest.mark.parametrize("bad", ["../escape", "..", "a/b", "", str(uuid.uuid4()).upper()])
def test_upload_ids_cannot_name_other_paths(tmp_path: Path, bad: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.create_upload(bad)
    with pytest.raises(ValueError):
        store.delete_upload(bad)


def test_an_upload_is_held_by_one_holder_and_not_once_it_is_placed(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    other = FilesystemBlobStore(tmp_path)  # as another process would open it
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    with store.hold_upload(upload):
        with pytest.raises(BlockingIOError), other.hold_upload(upload):
            pass
        store.place_upload(upload, digest(b""))
    with pytest.raises(FileNotFoundError), other.hold_upload(upload):
        pass
    again = str(uuid.uuid4())
    store.create_upload(again)
    with other.hold_upload(again):
        pass  # released: the next holder gets it
    with store.hold_upload(again):
        pass


def test_an_upload_moved_while_a_holder_waited_is_not_held(tmp_path: Path) -> None:
    """Opened before the move, locked after it: the lock is on the blob now, not the upload."""
    store = FilesystemBlobStore(tmp_path)
    upload = str(uuid.uuid4())
    store.create_upload(upload)
    path = tmp_path / "uploads" / upload
    real_open = os.open

    def open_then_move(name: str, flags: int, *args: int) -> int:
        fd = real_open(name, flags, *args)
        if name == str(path):
            store.place_upload(upload, digest(b""))
        return fd

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", open_then_move)
        with pytest.raises(FileNotFoundError), store.hold_upload(upload):
            pass
