"""Content-addressed blob folder: `blobs/<algorithm>/<first two hex>/<hex>`, uploads beside it.

Uploads live in the same file system as the blobs so that completing one is an atomic
rename; the bytes are fsynced before the rename and the directory after it, so a blob that
is visible is whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_UPLOAD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_READ_SIZE = 1 << 20


class _FileWriter:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def sync_point(self) -> Callable[[], None]:
        self._file.flush()
        fd = self._file.fileno()
        return lambda: os.fdatasync(fd)

    def close(self) -> None:
        """Flush and fsync: once the caller records the new length, the bytes are on disk."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blob_prefix = f"{self._blobs}{os.sep}"
        self._upload_prefix = f"{self._uploads}{os.sep}"
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
        os.close(os.open(self._upload_path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def open_upload(self, upload_id: str, offset: int) -> _FileWriter:
        file = open(self._upload_path(upload_id), "r+b", buffering=_READ_SIZE)  # noqa: SIM115
        file.truncate(offset)
        file.seek(offset)
        return _FileWriter(file)

    def has_upload(self, upload_id: str) -> bool:
        return os.path.exists(self._upload_path(upload_id))

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
