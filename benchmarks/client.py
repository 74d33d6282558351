"""Registry clients used by the scenarios.

`Conn` is a minimal blocking HTTP/1.1 keep-alive client on a raw socket: large bodies go out
with `sendall` of a memoryview and discarded bodies are spliced to /dev/null (or read with
`recv_into` a reusable buffer when hashed), so the client spends little CPU per byte (the
scenarios report its CPU anyway). `push_images` is an aiohttp client that pushes the fixtures'
small images (the timed pushes use the native `pushload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import select
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
READ_SIZE = 4 << 20
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031  # Linux fcntl.h
IO_TIMEOUT = 120.0


def sha256(data: bytes | bytearray | memoryview) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    length: int  # bytes of body received (also when discarded)


class Conn:
    """One keep-alive connection to 127.0.0.1:port."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.headers = headers or {}
        self.sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(READ_SIZE)
        self.view = memoryview(self.buf)
        self.pending = b""  # bytes read past the end of the previous response head
        self.pipe: tuple[int, int] | None = None  # for splice() of discarded bodies
        self.null = -1

    def close(self) -> None:
        self.sock.close()
        for fd in (*(self.pipe or ()), self.null):
            if fd >= 0:
                os.close(fd)

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | bytearray | memoryview = b"",
        headers: dict[str, str] | None = None,
        discard: bool = False,
        hasher: hashlib._Hash | None = None,
    ) -> Response:
        """Send one request; keep the body, or count and drop it (`discard`), maybe hashing it."""
        all_headers = {"Host": f"{self.host}:{self.port}", **self.headers, **(headers or {})}
        if body or method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        self.sock.sendall(head.encode())
        if body:
            self.sock.sendall(body)
        status, resp_headers = self._read_head()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return Response(status, resp_headers, b"", 0)
        if resp_headers.get("transfer-encoding", "").lower() == "chunked":
            data = self._read_chunked()
            return Response(status, resp_headers, data, len(data))
        length = int(resp_headers.get("content-length", "0"))
        if discard:
            self._discard(length, hasher)
            return Response(status, resp_headers, b"", length)
        data = self._read_exact(length)
        return Response(status, resp_headers, data, length)

    def _recv(self) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    def _read_head(self) -> tuple[int, dict[str, str]]:
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > 1 << 20:
                raise ConnectionError("response head too large")
            data += self._recv()
        head, self.pending = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return status, headers

    def _read_exact(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            data = self._recv()
            if got + len(data) > n:
                data, self.pending = data[: n - got], data[n - got :]
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def _read_line(self) -> bytes:
        data = b""
        while b"\r\n" not in data:
            data += self._recv()
        line, rest = data.split(b"\r\n", 1)
        self.pending = rest + self.pending
        return line

    def _read_chunked(self) -> bytes:
        parts = []
        for _ in range(10_000_000):
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():  # trailers up to the empty line
                    pass
                break
            parts.append(self._read_exact(size))
            self._read_exact(2)
        return b"".join(parts)

    def _discard(self, n: int, hasher: hashlib._Hash | None) -> None:
        got = 0
        if self.pending:
            take = self.pending[:n]
            self.pending = self.pending[n:]
            if hasher:
                hasher.update(take)
            got = len(take)
        if hasher is None and hasattr(os, "splice"):
            self._splice_to_null(n - got)
            return
        while got < n:
            k = self.sock.recv_into(self.view, min(READ_SIZE, n - got))
            if k == 0:
                raise ConnectionError("server closed the connection mid-body")
            if hasher:
                hasher.update(self.view[:k])
            got += k

    def _splice_to_null(self, n: int) -> None:
        """Drop n body bytes without copying them to user space: socket → pipe → /dev/null."""
        if self.pipe is None:
            self.pipe = os.pipe()
            self.null = os.open(os.devnull, os.O_WRONLY)
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.pipe[1], F_SETPIPE_SZ, PIPE_SIZE)
        read_end, write_end = self.pipe
        sock = self.sock.fileno()
        while n > 0:
            try:
                k = os.splice(sock, write_end, min(n, PIPE_SIZE))
            except BlockingIOError:  # the socket is non-blocking because it has a timeout
                if not select.select([sock], [], [], IO_TIMEOUT)[0]:
                    raise TimeoutError("no body bytes within the timeout") from None
                continue
            if k == 0:
                raise ConnectionError("server closed the connection mid-body")
            left = k
            while left:
                left -= os.splice(read_end, self.null, left)
            n -= k


def _path(location: str) -> str:
    """Request target of an upload Location: Distribution sends an absolute URL, Berth a path."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _target(location: str, digest: str) -> str:
    """Path of an upload Location (absolute or relative) with `digest=` appended."""
    path = _path(location)
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}digest={digest}"


def push_blob_monolithic(conn: Conn, repo: str, data: bytes | bytearray, digest: str) -> None:
    """POST to open an upload, then PUT the whole blob with its digest."""
    r = conn.request("POST", f"/v2/{repo}/blobs/uploads/")
    if r.status != 202:
        raise RuntimeError(f"POST upload: {r.status} {r.body[:300]!r}")
    r = conn.request("PUT", _target(r.headers["location"], digest), memoryview(data))
    if r.status != 201:
        raise RuntimeError(f"PUT upload: {r.status} {r.body[:300]!r}")


def push_blob_chunked(
    conn: Conn, repo: str, data: bytes | bytearray, digest: str, chunk: int
) -> None:
    """POST to open an upload, PATCH the blob `chunk` bytes at a time, then PUT its digest.

    Each response's Location is followed: the spec lets it change (Distribution's carries a new
    `_state` after every PATCH). Chunks are memoryview slices, so the blob is never copied.
    """
    r = conn.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = _upload_location(r, "POST upload")
    view = memoryview(data)
    for first in range(0, len(view), chunk):
        part = view[first : first + chunk]
        last = first + len(part) - 1
        headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{first}-{last}"}
        r = conn.request("PATCH", _path(location), part, headers)
        location = _upload_location(r, f"PATCH upload bytes {first}-{last}")
    r = conn.request("PUT", _target(location, digest))
    if r.status != 201:
        raise RuntimeError(f"PUT upload after {len(view)} bytes: {r.status} {r.body[:300]!r}")


def _upload_location(r: Response, what: str) -> str:
    """The Location of a 202 answer to an upload step; anything else is an error."""
    if r.status != 202:
        raise RuntimeError(f"{what}: {r.status} {r.body[:300]!r}")
    if not r.headers.get("location"):
        raise RuntimeError(f"{what}: 202 without a Location header")
    return r.headers["location"]


# --- small images with aiohttp -------------------------------------------------------------------


@dataclass
class Image:
    blobs: list[tuple[str, bytes]]  # (digest, data) for the layers and the config
    manifest: bytes


def make_image(layers: int = 3, layer_size: int = 4096) -> Image:
    blobs = [(sha256(d), d) for d in (os.urandom(layer_size) for _ in range(layers))]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [d for d, _ in blobs]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": len(b)} for d, b in blobs],
        },
        indent=3,
    ).encode()
    return Image([*blobs, (sha256(config), config)], manifest)


async def _push_image(
    session: aiohttp.ClientSession, base: str, repo: str, tag: str, image: Image
) -> None:
    for digest, data in image.blobs:
        async with session.post(f"{base}/v2/{repo}/blobs/uploads/") as r:
            if r.status != 202:
                raise RuntimeError(f"POST upload: {r.status} {(await r.text())[:300]}")
            location = r.headers["Location"]
        async with session.put(base + _target(location, digest), data=data) as r:
            if r.status != 201:
                raise RuntimeError(f"PUT upload: {r.status} {(await r.text())[:300]}")
    await put_manifest(session, base, repo, tag, image.manifest)


async def put_manifest(
    session: aiohttp.ClientSession, base: str, repo: str, tag: str, manifest: bytes
) -> None:
    headers = {"Content-Type": OCI_MANIFEST}
    async with session.put(
        f"{base}/v2/{repo}/manifests/{tag}", data=manifest, headers=headers
    ) as r:
        if r.status != 201:
            raise RuntimeError(f"PUT manifest: {r.status} {(await r.text())[:300]}")


async def _pool(jobs: int, concurrency: int, run_one: Callable[[int], Awaitable[None]]) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(jobs):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await run_one(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _session(headers: dict[str, str], concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers=headers,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=IO_TIMEOUT),
    )


def push_images(
    base: str, headers: dict[str, str], repo: str, images: list[Image], concurrency: int
) -> None:
    """Push every image (blobs then manifest, tag i<n>) from `concurrency` concurrent pushers."""

    async def main() -> None:
        async with _session(headers, concurrency) as session:

            async def one(i: int) -> None:
                await _push_image(session, base, repo, f"i{i}", images[i])

            await _pool(len(images), concurrency, one)

    asyncio.run(main())


def tag_many(
    base: str, headers: dict[str, str], repo: str, image: Image, tags: int, concurrency: int
) -> None:
    """Push one image, then PUT its manifest under `tags` tags t00000, t00001, …"""

    async def main() -> None:
        async with _session(headers, concurrency) as session:
            await _push_image(session, base, repo, "t00000", image)

            async def one(i: int) -> None:
                await put_manifest(session, base, repo, f"t{i:05d}", image.manifest)

            await _pool(tags, concurrency, one)

    asyncio.run(main())
