"""Image layers built in memory for the scanner tests."""

from __future__ import annotations

import gzip
import io
import posixpath
import sqlite3
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

import zstandard

Compression = Literal["gzip", "zstd", "none"]


@dataclass(frozen=True)
class Entry:
    path: str
    kind: Literal["file", "dir", "symlink", "hardlink", "fifo"] = "file"
    data: bytes = b""
    target: str = ""
    mode: int = 0o644


def file(path: str, data: bytes | str, mode: int = 0o644) -> Entry:
    return Entry(path, "file", data.encode() if isinstance(data, str) else data, mode=mode)


def directory(path: str) -> Entry:
    return Entry(path, "dir", mode=0o755)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, "symlink", target=target)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, "hardlink", target=target)


def fifo(path: str) -> Entry:
    return Entry(path, "fifo")


def whiteout(path: str) -> Entry:
    parent, _, name = path.rpartition("/")
    return file(posixpath.join(parent, ".wh." + name), b"")


def opaque(directory_path: str) -> Entry:
    return file(posixpath.join(directory_path, ".wh..wh..opq"), b"")


def tar_bytes(entries: Iterable[Entry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mode = entry.mode
            if entry.kind == "file":
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[entry.kind]
            info.linkname = entry.target
            archive.addfile(info)
    return buffer.getvalue()


def compress(data: bytes, compression: Compression) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def layer(entries: Iterable[Entry], compression: Compression = "gzip") -> bytes:
    return compress(tar_bytes(entries), compression)


@dataclass
class Blobs:
    """Layer openers over in-memory blobs that count how often each layer was opened."""

    blobs: Sequence[bytes]
    opened: list[int] = field(default_factory=list)

    @property
    def openers(self) -> list[Callable[[], BinaryIO]]:
        return [self._opener(i) for i in range(len(self.blobs))]

    def _opener(self, index: int) -> Callable[[], BinaryIO]:
        def open_layer() -> BinaryIO:
            self.opened.append(index)
            return io.BytesIO(self.blobs[index])

        return open_layer


def openers(*blobs: bytes) -> list[Callable[[], BinaryIO]]:
    return Blobs(blobs).openers


# --- package databases ----------------------------------------------------------------------------

RPM_STRING = 6
RPM_INT32 = 4
RPM_BIN = 7


def rpm_header(tags: Mapping[int, str | int], *, region: bool = True) -> bytes:
    """An rpm header blob as rpmdb stores it (no lead, no magic). With `region`, the first entry
    is an immutable-region tag (63) as rpm writes, pointing at a 16-byte trailer."""
    entries: list[tuple[int, int, int, int]] = []
    store = bytearray()
    for tag, value in tags.items():
        if isinstance(value, int):
            while len(store) % 4:
                store.append(0)
            entries.append((tag, RPM_INT32, len(store), 1))
            store += struct.pack(">I", value)
        else:
            entries.append((tag, RPM_STRING, len(store), 1))
            store += value.encode() + b"\0"
    if region:
        while len(store) % 4:
            store.append(0)
        trailer_offset = len(store)
        count = len(entries) + 1
        store += struct.pack(">iIiI", 63, RPM_BIN, -(count * 16), 16)
        entries.insert(0, (63, RPM_BIN, trailer_offset, 16))
    index = b"".join(struct.pack(">IIiI", *entry) for entry in entries)
    return struct.pack(">II", len(entries), len(store)) + index + bytes(store)


def rpmdb(headers: Sequence[bytes]) -> bytes:
    """An rpm ≥ 4.16 sqlite database with the given header blobs in its Packages table."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"
        )
        connection.execute("CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL)")
        connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(h,) for h in headers])
        connection.commit()
        return connection.serialize()
    finally:
        connection.close()


def jar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def pom_properties(group: str, artifact: str, version: str) -> tuple[str, bytes]:
    text = (
        "#Generated by Maven\n"
        "#Tue Jan 02 10:00:00 UTC 2024\n"
        f"artifactId={artifact}\ngroupId={group}\nversion={version}\n"
    )
    return f"META-INF/maven/{group}/{artifact}/pom.properties", text.encode()


APK_INSTALLED = """\
C:Q1p78yvTLG094tHE1+dToJGbmYzQE=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1705085263
c:3bd5ff4a0ee5e4d1a8f1b2a5cf2f1e0db3b2f93a
D:
p:so:libc.musl-x86_64.so.1=1
r:libc-dev
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1vY2Gd4Cc8bdGg6LD5cmk9oZpkpU=
R:libc.musl-x86_64.so.1

C:Q1Ue6Yl7ql2ItHlkvGEkE8SKuJFDA=
P:libcrypto3
V:3.1.4-r3
A:x86_64
S:1708620
I:4395008
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conner <ariadne@dereferenced.org>
t:1706542806
c:5a2d2e0fb0c4c2a8a5a2fbb8d9ea5d2cd1a55f2b
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
r:libcrypto1.1
F:etc
F:etc/ssl
R:openssl.cnf.dist
Z:Q1Ewfy8dP5L7bt1e5LcvjK8c5iSCo=

C:Q1f5DmTvmEjfNEGUh2Me4C+GxWiVs=
P:busybox
V:1.36.1-r15
A:x86_64
S:506787
I:947200
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1705084874
c:b6b8b7dc1a8e50dc3d1b6d1ab8e6e8f2c2f1e8de
D:so:libc.musl-x86_64.so.1
p:/bin/sh cmd:busybox=1.36.1-r15 cmd:sh=1.36.1-r15
F:bin
R:busybox
a:0:0:755
Z:Q1hnHb8DCwV0YvOKZbHoFhWBFWzrA=
"""

ALPINE_OS_RELEASE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""

ROCKY_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"""


# --- ELF ----------------------------------------------------------------------------------------

ELF_BASE = 0x400000
ELF_FIRST_SECTION = 128  # file offset of the first section's data; its address is ELF_BASE + that


def elf(sections: dict[str, bytes], *, section_headers: bool = True) -> bytes:
    """A little-endian ELF64 executable with the given sections laid out from
    ELF_FIRST_SECTION on, each 16-byte aligned, all in one PT_LOAD segment mapping file offset
    N to address ELF_BASE + N."""
    names = b"\0"
    body = bytearray(ELF_FIRST_SECTION)
    headers = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for name, content in [*sections.items(), (".shstrtab", b"")]:
        while len(body) % 16:
            body.append(0)
        name_offset = len(names)
        names += name.encode() + b"\0"
        if name == ".shstrtab":
            content = names
        offset = len(body)
        body += content
        kind = 3 if name == ".shstrtab" else 1  # SHT_STRTAB, SHT_PROGBITS
        headers.append(
            struct.pack(
                "<IIQQQQIIQQ",
                name_offset,
                kind,
                3,
                ELF_BASE + offset,
                offset,
                len(content),
                0,
                0,
                16,
                0,
            )
        )
    while len(body) % 8:
        body.append(0)
    section_offset = len(body) if section_headers else 0
    count = len(headers) if section_headers else 0
    header = (
        b"\x7fELF\x02\x01\x01"
        + bytes(9)
        + struct.pack(
            "<HHIQQQIHHHHHH",
            2,
            62,
            1,
            ELF_BASE,
            64,
            section_offset,
            0,
            64,
            56,
            1,
            64,
            count,
            count - 1 if count else 0,
        )
    )
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, ELF_BASE, ELF_BASE, len(body), len(body), 0x1000)
    body[: len(header) + len(program)] = header + program
    if section_headers:
        body += b"".join(headers)
    return bytes(body)
