"""The files of an image's final filesystem, read straight from its layer blobs.

Layers are streamed once each, in order, and never unpacked to disk. Only the paths a caller
wants are tracked, so memory holds the wanted files' contents and little else; the OCI layer
rules (image-spec `layer.md`) are applied to those paths:

* a later layer's entry replaces an earlier one at the same path; a non-directory entry also
  hides whatever an earlier layer had below that path, and a directory hides an earlier file;
* `.wh.<name>` deletes `<name>` and everything below it from the layers beneath;
* `.wh..wh..opq` hides everything the layers beneath had in its directory;
* whiteouts never affect entries of their own layer, whatever their order in the archive.

Links are resolved where that is cheap:

* a hard link gets the content of its target as that layer archived it: copied when the target
  is wanted too, otherwise that one layer is streamed a second time to read the target (a link
  to an unwanted file of a lower layer is then not found, and left out);
* a symbolic link (chains included) gets the content of its target in the final filesystem
  when that target is itself a wanted file; otherwise the link is left out. Links through
  symlinked directories are not followed (a link into `/lib` on a merged-/usr image is not
  found under `usr/lib`).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol, cast

import zstandard

from berth.scan.errors import LayerError

__all__ = ["Extract", "LayerError", "LayerOpener", "list_files", "path_matcher", "read_files"]

LayerOpener = Callable[[], BinaryIO]
# Called with (path, stream, size) for each wanted regular file; returns what to keep of it, or
# None to keep nothing. Lets a caller shrink big files (binaries, jars) as they stream past.
Extract = Callable[[str, IO[bytes], int], bytes | None]

DEFAULT_MAX_FILE_SIZE = 64 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OPAQUE = ".wh..wh..opq"
_WHITEOUT = ".wh."
_MAX_SYMLINK_HOPS = 16
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class _Symlink:
    target: str


@dataclass(frozen=True, slots=True)
class _Hardlink:
    layer: int
    target: str


@dataclass(frozen=True, slots=True)
class _Unkept:
    """A regular file that exists but whose content was not kept (over the size cap, or
    declined by the extract hook)."""


@dataclass(frozen=True, slots=True)
class _Special:
    """A device, FIFO or other entry that is not a file one can read."""


_Entry = bytes | _Symlink | _Hardlink | _Unkept | _Special
_UNKEPT = _Unkept()
_SPECIAL = _Special()


def read_files(
    layers: Sequence[LayerOpener],
    wanted: Callable[[str], bool],
    *,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    extract: Extract | None = None,
) -> dict[str, bytes]:
    """Content of the wanted paths that exist as files in the final filesystem.

    `layers` open the layer blobs bottom-most first; `wanted` is a predicate over normalised
    paths (no leading "/" or "./"). Files larger than `max_file_size` count as present but are
    not returned. Raises `LayerError` for a corrupt or truncated layer.
    """
    state = _apply_layers(layers, wanted, max_file_size, extract)
    _read_hardlinks(state, layers, max_file_size, extract)
    result: dict[str, bytes] = {}
    for path in state:
        entry = _resolve(state, path)
        if isinstance(entry, bytes):
            result[path] = entry
    return result


def list_files(
    layers: Sequence[LayerOpener],
    wanted: Callable[[str], bool],
) -> list[str]:
    """Sorted wanted paths that exist as files in the final filesystem, without their content.

    Symbolic links count when their target is a wanted file, as in `read_files`.
    """

    def nothing(path: str, stream: IO[bytes], size: int) -> bytes:
        return b""

    state = _apply_layers(layers, wanted, 1 << 62, nothing)
    present = []
    for path in state:
        entry = _resolve(state, path)
        if isinstance(entry, bytes | _Unkept | _Hardlink):
            present.append(path)
    return sorted(present)


def path_matcher(*patterns: str) -> Callable[[str], bool]:
    """A `wanted` predicate from glob patterns over normalised paths.

    `*` and `?` stay within one path segment, `**` spans any number of segments (zero included),
    and a pattern without "/" matches the last segment anywhere, as in .gitignore:
    `**/site-packages/*.dist-info/METADATA`, `**/node_modules/**/package.json`, `*.jar`.
    """
    parts = []
    for pattern in patterns:
        if "/" not in pattern:
            pattern = "**/" + pattern
        parts.append(_glob_regex(pattern.lstrip("/")))
    regex = re.compile("|".join(f"(?:{part})" for part in parts) or "(?!)")
    return lambda path: regex.fullmatch(path) is not None


def _glob_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


# --- layer application ---------------------------------------------------------------------------


def _apply_layers(
    layers: Sequence[LayerOpener],
    wanted: Callable[[str], bool],
    max_file_size: int,
    extract: Extract | None,
) -> dict[str, _Entry]:
    state: dict[str, _Entry] = {}
    for index, opener in enumerate(layers):
        state = _apply_layer(index, opener, state, wanted, max_file_size, extract)
    return state


def _apply_layer(
    index: int,
    opener: LayerOpener,
    lower: dict[str, _Entry],
    wanted: Callable[[str], bool],
    max_file_size: int,
    extract: Extract | None,
) -> dict[str, _Entry]:
    lower_dirs = _ancestors(lower)
    upper: dict[str, _Entry] = {}
    removed: set[str] = set()  # lower paths (and their subtrees) this layer deletes or replaces
    opaque: set[str] = set()  # directories whose lower content this layer hides
    for member, tar in _members(index, opener):
        path = _normalise(member.name)
        if path is None:
            continue
        directory, _, base = path.rpartition("/")
        if base.startswith(_WHITEOUT):
            if base == _OPAQUE:
                if directory in lower_dirs:
                    opaque.add(directory)
            elif not base.startswith(_WHITEOUT + _WHITEOUT):  # .wh..wh.* is aufs bookkeeping
                target = posixpath.join(directory, base[len(_WHITEOUT) :])
                if target in lower or target in lower_dirs:
                    removed.add(target)
            continue
        if member.isdir():
            if path in lower:
                removed.add(path)
            continue
        if path in lower_dirs:
            removed.add(path)
        if wanted(path):
            with _layer_errors(index):
                upper[path] = _entry(index, tar, member, path, upper, lower, max_file_size, extract)
    if removed or opaque:
        lower = {path: entry for path, entry in lower.items() if not _hidden(path, removed, opaque)}
    lower.update(upper)
    return lower


def _entry(
    index: int,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    path: str,
    upper: Mapping[str, _Entry],
    lower: Mapping[str, _Entry],
    max_file_size: int,
    extract: Extract | None,
) -> _Entry:
    if member.isreg():
        return _read_member(tar, member, path, max_file_size, extract)
    if member.issym():
        target = _link_target(posixpath.dirname(path), member.linkname)
        return _SPECIAL if target is None else _Symlink(target)
    if member.islnk():
        target = _normalise(member.linkname)
        if target is None:
            return _SPECIAL
        # A hard link names an earlier member of the same archive (or, from some tools, a file
        # of a lower layer): when that one was wanted too its content is at hand, otherwise the
        # layer is read again for it afterwards.
        if target in upper:
            return upper[target]
        if target in lower:
            return lower[target]
        return _Hardlink(index, target)
    return _SPECIAL


def _read_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    path: str,
    max_file_size: int,
    extract: Extract | None,
) -> bytes | _Unkept:
    if member.size > max_file_size:
        return _UNKEPT
    stream = tar.extractfile(member)
    if stream is None:
        return _UNKEPT
    kept = extract(path, stream, member.size) if extract is not None else stream.read()
    return _UNKEPT if kept is None else kept


def _read_hardlinks(
    state: dict[str, _Entry],
    layers: Sequence[LayerOpener],
    max_file_size: int,
    extract: Extract | None,
) -> None:
    by_layer: dict[int, dict[str, list[str]]] = {}
    for path, entry in state.items():
        if isinstance(entry, _Hardlink):
            by_layer.setdefault(entry.layer, {}).setdefault(entry.target, []).append(path)
    for index, targets in sorted(by_layer.items()):
        for member, tar in _members(index, layers[index]):
            name = _normalise(member.name)
            if name is None or name not in targets or not member.isreg():
                continue
            links = targets.pop(name)
            with _layer_errors(index):
                content = _read_member(tar, member, links[0], max_file_size, extract)
            for link in links:
                state[link] = content
            if not targets:
                break
        for links in targets.values():  # the archive had no such member: a dangling link
            for link in links:
                state[link] = _SPECIAL


def _resolve(state: Mapping[str, _Entry], path: str) -> _Entry | None:
    entry: _Entry | None = state[path]
    for _ in range(_MAX_SYMLINK_HOPS):
        if not isinstance(entry, _Symlink):
            return entry
        entry = state.get(entry.target)
    return None


def _hidden(path: str, removed: set[str], opaque: set[str]) -> bool:
    if path in removed:
        return True
    return any(ancestor in removed or ancestor in opaque for ancestor in _parents(path))


def _parents(path: str) -> Iterator[str]:
    """Every directory above `path`, the root ("") included."""
    yield ""
    end = path.find("/")
    while end != -1:
        yield path[:end]
        end = path.find("/", end + 1)


def _ancestors(paths: Mapping[str, object]) -> set[str]:
    dirs: set[str] = set()
    for path in paths:
        dirs.update(_parents(path))
    return dirs


def _normalise(name: str) -> str | None:
    path = posixpath.normpath("/" + name).lstrip("/")
    # normpath keeps a leading "//"; lstrip removes it. A path that tried to climb above the root
    # ends at the root, as it would when unpacked; the root itself is no file.
    return path or None


def _link_target(directory: str, linkname: str) -> str | None:
    base = "" if linkname.startswith("/") else directory
    return _normalise(posixpath.join("/", base, linkname))


# --- streaming archives ---------------------------------------------------------------------------


def _members(index: int, opener: LayerOpener) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """The entries of one layer, in archive order. Callers read member content inside
    `_layer_errors` too: a truncated member surfaces while its data is read."""
    raw = opener()
    try:
        with _layer_errors(index):
            stream = _decompressed(raw)
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed with `raw`
        while True:
            with _layer_errors(index):
                member = tar.next()
            if member is None:
                break
            yield member, tar
        with _layer_errors(index):
            # tarfile stops at the end-of-archive blocks; reading on to the end of the stream
            # makes the decompressor check the trailer, so a truncated blob is noticed.
            while stream.read(_CHUNK):
                pass
    finally:
        raw.close()


@contextmanager
def _layer_errors(index: int) -> Iterator[None]:
    try:
        yield
    except LayerError as exc:
        raise LayerError(f"layer {index}: {exc.message}") from exc
    except (tarfile.TarError, EOFError, zlib.error, zstandard.ZstdError, gzip.BadGzipFile) as exc:
        raise LayerError(f"layer {index} is corrupt: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return f"truncated ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _decompressed(raw: BinaryIO) -> gzip.GzipFile | _ZstdReader | _Prefixed:
    head = _read_exactly(raw, 4)
    stream = _Prefixed(head, raw)
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head == _ZSTD_MAGIC:
        return _ZstdReader(stream)
    if not head:
        raise LayerError("the blob is empty")
    return stream


def _read_exactly(raw: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = raw.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read to sniff the compression."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


class _Source(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _ZstdReader(io.RawIOBase):
    """zstandard's stream reader (concatenated frames, output bounded by each read) that, unlike
    that reader, fails when the input ends inside a frame: the frames' layout is followed as the
    compressed bytes flow by."""

    def __init__(self, raw: _Source) -> None:
        self._frames = _ZstdFrames(raw)
        # stream_reader only ever calls read(); typeshed wants a whole IO for it.
        source = cast(IO[bytes], self._frames)
        self._reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        data = self._reader.read(-1 if size is None else size)
        if not data and size != 0:
            while self._frames.read(_CHUNK):  # whatever the decompressor left unread
                pass
            if not self._frames.at_boundary:
                raise EOFError("zstd stream ended inside a frame")
        return data


class _ZstdFrames:
    """Passes compressed bytes through while following the zstd frame format (RFC 8878 §3.1):
    frame headers, block headers and payloads, checksums, skippable frames."""

    def __init__(self, raw: _Source) -> None:
        self._raw = raw
        self._header = b""  # bytes of the structure being read
        self._need = 4  # how many bytes that structure has
        self._state = "magic"
        self._skip = 0  # payload bytes to pass before the next structure
        self._checksum = False

    @property
    def at_boundary(self) -> bool:
        return self._state == "magic" and not self._header and not self._skip

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size is not None and size >= 0 else _CHUNK)
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            step = min(self._need - len(self._header), len(view))
            self._header += bytes(view[:step])
            view = view[step:]
            if len(self._header) == self._need:
                self._advance()
        return data

    def _advance(self) -> None:
        header, self._header = self._header, b""
        if self._state == "magic":
            magic = int.from_bytes(header, "little")
            if magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._need = "skippable", 4
            else:  # not zstd at all: the decompressor reports that
                self._state, self._need = "descriptor", 1
        elif self._state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
        elif self._state == "descriptor":
            descriptor = header[0]
            single_segment = descriptor >> 5 & 1
            content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
            self._checksum = bool(descriptor >> 2 & 1)
            self._skip = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size
            self._state, self._need = "block", 3
        elif self._state == "block":
            block = int.from_bytes(header, "little")
            kind, size = block >> 1 & 3, block >> 3
            self._skip = 1 if kind == 1 else size  # an RLE block stores its one byte
            if block & 1:  # the last block of the frame
                self._state, self._need = "magic", 4
                self._skip += 4 if self._checksum else 0
