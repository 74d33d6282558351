"""Content-addressed blob folder: `blobs/<algorithm>/<first two hex>/<hex>`, uploads beside it.

Uploads live in the same file system as the blobs so that completing one is an atomic
rename; the bytes are fsynced before the rename and the directory after it, so a blob that
is visible is whole.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

_UPLOAD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_READ_SIZE = 1 << 20


# O_DIRECT wants file offsets, lengths and memory aligned to the device's logical block:
# 4 KiB covers devices of 512-byte and of 4 KiB blocks.
_ALIGN = 4096
# Bytes per write job, and the size of each aligned buffer.
SEGMENT = 1 << 20
_IDLE_BUFFERS = 2


class _Buffers:
    """Page-aligned buffers (anonymous mmaps), a few kept for reuse while uploads are being
    written: fresh memory costs a page fault per page on first use, a large upload cycles
    through a few buffers a thousand times, and once the last one is back nothing is kept.
    Taken on the loop, given back from write jobs' threads."""

    def __init__(self) -> None:
        self._idle: list[mmap.mmap] = []
        self._out = 0
        self._lock = threading.Lock()

    def take(self) -> mmap.mmap:
        with self._lock:
            if self._idle:
                self._out += 1
                return self._idle.pop()
        buffer = mmap.mmap(-1, SEGMENT)  # counted once it exists: a failed map is not out
        with self._lock:
            self._out += 1
        return buffer

    def give(self, buffer: mmap.mmap) -> None:
        # Dropped rather than closed when not kept: a failed write's traceback may still hold
        # a view of it, and closing an exported mmap raises.
        with self._lock:
            self._out -= 1
            if not self._out:
                self._idle.clear()
            elif len(self._idle) < _IDLE_BUFFERS:
                self._idle.append(buffer)


class _Direct:
    """Whether this store's file system takes O_DIRECT writes: assumed where the platform has
    the flag, and turned off for good at the first refusal (tmpfs, some network file systems)."""

    def __init__(self) -> None:
        self.possible = hasattr(os, "O_DIRECT")


class _FileWriter:
    """Appends to an upload file, in segments written by jobs off the loop.

    Bytes gather in an aligned buffer. Each full segment is written with O_DIRECT where the
    file system allows it: from that buffer to the disk, without first being copied into the
    page cache and then written back by the fsync. On the machines measured, that copy into
    fresh page-cache pages cost more than receiving and hashing the bytes together, and a
    durable write needs the disk anyway. A write through the page cache instead (no O_DIRECT)
    is followed by an fdatasync in the same job, so that `close` has only the tail left to sync.
    What is left at `close` (a small blob, or a large one's tail) is written there.
    """

    def __init__(self, path: str, offset: int, buffers: _Buffers, direct: _Direct) -> None:
        self._buffers = buffers
        self._direct = direct
        self._directed = False
        # Held by a running job: `close` waits for it even when the caller stopped waiting
        # (a cancelled request), so the descriptor is never closed under a write.
        self._busy = threading.Lock()
        self._fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(self._fd, offset)
            # The buffer starts at the block holding `offset`, with that block's bytes in it
            # (the truncate made the file that long).
            head = offset % _ALIGN
            self._at = offset - head
            block = os.pread(self._fd, head, self._at) if head else b""
            self._buffer = buffers.take()  # last: nothing after it can fail and leave it out
        except BaseException:
            os.close(self._fd)
            raise
        self._buffer[:head] = block
        self._fill = head
        self._size = offset
        # Full segments and their file offsets: appended on the loop, taken by jobs (and by
        # `close`, for those whose job never ran) in other threads.
        self._full: collections.deque[tuple[mmap.mmap, int]] = collections.deque()

    def write(self, data: bytes) -> Callable[[], None] | None:
        view = memoryview(data)
        while view:
            n = min(len(view), SEGMENT - self._fill)
            self._buffer[self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == SEGMENT:
                fresh = self._buffers.take()  # first: if it fails, no buffer is in two places
                self._full.append((self._buffer, self._at))
                self._buffer, self._fill = fresh, 0
                self._at += SEGMENT
        self._size += len(data)
        return self._write_segments if self._full else None

    def _write_segments(self) -> None:
        with self._busy:
            self._write_full()  # nothing left when `close` came first

    def _write_full(self) -> None:
        """The full segments not written yet (`_busy` held)."""
        wrote = False
        while self._full:
            buffer, at = self._full.popleft()
            try:
                self._write_at(buffer, SEGMENT, at)
            finally:
                self._buffers.give(buffer)
            wrote = True
        if wrote and not self._directed:
            os.fdatasync(self._fd)

    def _write_at(self, buffer: mmap.mmap, length: int, at: int) -> None:
        """Whole aligned blocks, straight to the disk where the file system allows it."""
        if self._direct.possible and not self._directed:
            self._directed = self._direct.possible = _set_direct(self._fd, True)
        try:
            _pwrite_all(self._fd, memoryview(buffer)[:length], at)
        except OSError as exc:
            if not (self._directed and exc.errno == errno.EINVAL):
                raise
            # The flag was taken but the write refused: no direct I/O on this file system.
            self._direct.possible = self._directed = False
            _set_direct(self._fd, False)
            _pwrite_all(self._fd, memoryview(buffer)[:length], at)

    def close(self) -> None:
        """Write what no job has (after a running one ends) and the tail, and fsync: once the
        caller records the new length, the bytes are on disk."""
        self._busy.acquire()
        try:
            self._write_full()
            if self._fill:
                if self._directed:
                    # A whole block, zero-padded, then the file cut back to its length.
                    padded = -(-self._fill // _ALIGN) * _ALIGN
                    self._buffer[self._fill : padded] = bytes(padded - self._fill)
                    self._write_at(self._buffer, padded, self._at)
                    os.ftruncate(self._fd, self._size)
                else:
                    _pwrite_all(self._fd, memoryview(self._buffer)[: self._fill], self._at)
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            for buffer, _ in self._full:  # a write failed: these will not be written
                self._buffers.give(buffer)
            self._full.clear()
            self._buffers.give(self._buffer)
            self._busy.release()


def _set_direct(fd: int, on: bool) -> bool:
    """Whether O_DIRECT is now set on `fd` as asked."""
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | os.O_DIRECT) if on else (flags & ~os.O_DIRECT))
    except OSError:
        return False
    return on


def _pwrite_all(fd: int, view: memoryview, at: int) -> None:
    while view:
        written = os.pwrite(fd, view, at)
        view = view[written:]
        at += written


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blob_prefix = f"{self._blobs}{os.sep}"
        self._upload_prefix = f"{self._uploads}{os.sep}"
        self._buffers = _Buffers()
        self._direct = _Direct()
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    def _upload_path(self, upload_id: str) -> str:
        # Upload ids reach here from URLs; never let one name a path outside the folder.
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ValueError(f"not an upload id: {upload_id!r}")
        return f"{self._upload_prefix}{upload_id}"

    def _blob_file(self, digest: str) -> tuple[str, str]:
        """The blob's folder and file, as strings: building Paths cost more than a blob HEAD."""
        algorithm, encoded = digest.split(":", 1)
        folder = f"{self._blob_prefix}{algorithm}{os.sep}{encoded[:2]}"
        return folder, f"{folder}{os.sep}{encoded}"

    def blob_path(self, digest: str) -> Path:
        return Path(self._blob_file(digest)[1])

    def create_upload(self, upload_id: str) -> None:
        os.close(os.open(self._upload_path(upload_id), os.O_WRONLY | os.O_CREAT, 0o600))

    def open_upload(self, upload_id: str, offset: int) -> _FileWriter:
        return _FileWriter(self._upload_path(upload_id), offset, self._buffers, self._direct)

    @contextlib.contextmanager
    def hold_upload(self, upload_id: str) -> Iterator[None]:
        path = self._upload_path(upload_id)
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Completed (moved into place) or cancelled between the open and the lock: what is
            # held is no longer the upload.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)
            yield
        finally:
            os.close(fd)  # and with it the lock

    def read_upload(self, upload_id: str, length: int) -> Iterator[bytes]:
        with open(self._upload_path(upload_id), "rb") as file:
            remaining = length
            while remaining > 0:
                chunk = file.read(min(_READ_SIZE, remaining))
                if not chunk:
                    raise OSError(f"upload {upload_id} is shorter than {length} bytes")
                remaining -= len(chunk)
                yield chunk

    def place_upload(self, upload_id: str, digest: str) -> None:
        source = self._upload_path(upload_id)
        folder, target = self._blob_file(digest)
        if os.path.exists(target):
            os.unlink(source)
            return
        os.makedirs(folder, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(folder)

    def delete_blob(self, digest: str) -> None:
        self.blob_path(digest).unlink(missing_ok=True)

    def stale_uploads(self, older_than: float) -> list[str]:
        stale = []
        with os.scandir(self._uploads) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    if _UPLOAD_ID.fullmatch(entry.name) and entry.stat().st_mtime < older_than:
                        stale.append(entry.name)
        return stale

    def delete_upload(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._upload_path(upload_id))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
