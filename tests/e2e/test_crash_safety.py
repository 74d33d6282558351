"""kill -9 in the middle of uploads and manifest pushes: nothing acknowledged is lost, nothing
half-received becomes visible, and interrupted chunked uploads resume where they were acked."""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import (
    OCI_MANIFEST,
    error_code,
    image_manifest,
    push_blob,
    sha256,
)
from tests.e2e.conftest import BerthProcess

pytestmark = pytest.mark.e2e

NAME = "crash/app"
MiB = 1024 * 1024
# What a client sees when the server dies under its request.
DISCONNECTED = (ConnectionError, http.client.HTTPException)


def _client(berth: BerthProcess) -> httpx.Client:
    """Logged in with a password fetched now (so: only while the server runs)."""
    return berth.client(timeout=30)


def _blob_file(berth: BerthProcess, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return berth.data_dir / "blobs" / "sha256" / hex_digest[:2] / hex_digest


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    if not _poll(condition, timeout):
        raise AssertionError(f"timed out waiting for {what}")


def _poll(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextmanager
def _partial_request(
    berth: BerthProcess,
    method: str,
    path: str,
    headers: dict[str, str],
    sent: bytes,
    content_length: int,
) -> Iterator[http.client.HTTPConnection]:
    """A logged-in request whose headers promise `content_length` bytes but only `sent`
    follow."""
    assert len(sent) < content_length
    authorization = berth.authorization  # fetched from the ECR API before anything is sent
    conn = http.client.HTTPConnection("127.0.0.1", berth.port, timeout=10)
    try:
        conn.putrequest(method, path)
        conn.putheader("Authorization", authorization)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(content_length))
        conn.endheaders()
        conn.send(sent)
        yield conn
    finally:
        conn.close()


def _sync_barrier(berth: BerthProcess) -> None:
    """A few round trips, so that bytes sent earlier on other connections have been read."""
    with _client(berth) as client:
        for _ in range(3):
            assert client.get("/v2/").status_code == 200
    time.sleep(0.2)


def _assert_blob(client: httpx.Client, berth: BerthProcess, name: str, data: bytes) -> None:
    digest = sha256(data)
    response = client.get(f"/v2/{name}/blobs/{digest}")
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.content == data
    assert _blob_file(berth, digest).read_bytes() == data


def test_kill_during_monolithic_upload(berth_process: BerthProcess) -> None:
    berth_process.start()
    kept = os.urandom(200_000)
    lost = os.urandom(3 * MiB)
    lost_digest = sha256(lost)
    with _client(berth_process) as client:
        assert push_blob(client, NAME, kept) == sha256(kept)
    uploads = berth_process.data_dir / "uploads"
    assert sorted(uploads.iterdir()) == []

    with _partial_request(
        berth_process,
        "POST",
        f"/v2/{NAME}/blobs/uploads/?digest={lost_digest}",
        {"Content-Type": "application/octet-stream"},
        lost[: 2 * MiB],
        len(lost),
    ) as conn:
        # Berth streams the body into a file under uploads/; once it appears, the request is
        # surely mid-flight (should that ever change, fall back to a few round trips).
        if not _poll(lambda: bool(sorted(uploads.iterdir())), 5):
            _sync_barrier(berth_process)
        berth_process.kill()
        with pytest.raises(DISCONNECTED):
            conn.getresponse()

    berth_process.start()
    with _client(berth_process) as client:
        for method in ("GET", "HEAD"):
            response = client.request(method, f"/v2/{NAME}/blobs/{lost_digest}")
            assert response.status_code == 404
        assert error_code(client.get(f"/v2/{NAME}/blobs/{lost_digest}")) == "BLOB_UNKNOWN"
        assert not _blob_file(berth_process, lost_digest).exists()
        _assert_blob(client, berth_process, NAME, kept)
        # The interrupted attempt does not stand in the way of a retry.
        assert push_blob(client, NAME, lost) == lost_digest
        _assert_blob(client, berth_process, NAME, lost)


def test_kill_during_chunked_upload_resumes_at_acknowledged_offset(
    berth_process: BerthProcess,
) -> None:
    berth_process.start()
    chunk1 = os.urandom(300_000)
    chunk2 = os.urandom(3 * MiB)
    end1, total = len(chunk1), len(chunk1) + len(chunk2)
    octets = {"Content-Type": "application/octet-stream"}
    with _client(berth_process) as client:
        start = client.post(f"/v2/{NAME}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        upload_id = start.headers["Docker-Upload-UUID"]
        first = client.patch(
            location, content=chunk1, headers={**octets, "Content-Range": f"0-{end1 - 1}"}
        )
        assert first.status_code == 202, first.text
        assert first.headers["Range"] == f"0-{end1 - 1}"

    upload_file = berth_process.data_dir / "uploads" / upload_id
    assert upload_file.stat().st_size == end1
    # Minted before the kill: the server key lives in the data folder, so the token outlives
    # the process and the resume below logs in with it.
    password = berth_process.password()
    chunk2_range = {**octets, "Content-Range": f"{end1}-{total - 1}"}
    with _partial_request(
        berth_process, "PATCH", location, chunk2_range, chunk2[: 2 * MiB], len(chunk2)
    ) as conn:
        # Unacknowledged bytes of chunk 2 reach the upload file before the kill, so the resume
        # below must cut them off (with buffering that might change, round trips as fallback).
        if not _poll(lambda: upload_file.stat().st_size > end1, 5):
            _sync_barrier(berth_process)
        berth_process.kill()
        with pytest.raises(DISCONNECTED):
            conn.getresponse()

    berth_process.start()
    with httpx.Client(base_url=berth_process.url, timeout=30, auth=("AWS", password)) as client:
        status = client.get(location)
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == f"0-{end1 - 1}"
        assert status.headers["Docker-Upload-UUID"] == upload_id

        # A chunk that does not start where the acknowledged bytes end is refused.
        for first_byte in (end1 + 10, end1 - 1000, 0):
            wrong = client.patch(
                location,
                content=chunk2[:1000],
                headers={**octets, "Content-Range": f"{first_byte}-{first_byte + 999}"},
            )
            assert wrong.status_code == 416, (first_byte, wrong.text)
            assert wrong.headers["Range"] == f"0-{end1 - 1}"
            assert error_code(wrong) == "BLOB_UPLOAD_INVALID"
        assert client.get(location).headers["Range"] == f"0-{end1 - 1}"

        again = client.patch(location, content=chunk2, headers=chunk2_range)
        assert again.status_code == 202, again.text
        assert again.headers["Range"] == f"0-{total - 1}"

        digest = sha256(chunk1 + chunk2)
        done = client.put(location, params={"digest": digest})
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest
        _assert_blob(client, berth_process, NAME, chunk1 + chunk2)
        assert not upload_file.exists()
        assert client.get(location).status_code == 404


def _push_blobs_of_image(
    client: httpx.Client, name: str, seed: bytes
) -> tuple[bytes, bytes, bytes]:
    """Config and layer blobs; returns (config, layer, manifest) without pushing the manifest."""
    config = b'{"architecture":"amd64","os":"linux","seed":"' + seed + b'"}'
    layer = b"layer-" + seed + os.urandom(1000)
    for blob in (config, layer):
        push_blob(client, name, blob)
    return config, layer, image_manifest(config, [layer])


def test_kill_during_manifest_put(berth_process: BerthProcess) -> None:
    berth_process.start()
    with _client(berth_process) as client:
        config, layer, kept = _push_blobs_of_image(client, NAME, b"kept")
        put = client.put(
            f"/v2/{NAME}/manifests/v1", content=kept, headers={"Content-Type": OCI_MANIFEST}
        )
        assert put.status_code == 201, put.text
        kept_digest = put.headers["Docker-Content-Digest"]
        assert kept_digest == sha256(kept)
    # Same blobs, other bytes: complete, this manifest would be accepted.
    interrupted = image_manifest(config, [layer], annotations={"org.example.try": "interrupted"})
    headers = {"Content-Type": OCI_MANIFEST}
    body = interrupted[:-1]
    with (
        _partial_request(
            berth_process, "PUT", f"/v2/{NAME}/manifests/v1", headers, body, len(interrupted)
        ) as retag,
        _partial_request(
            berth_process, "PUT", f"/v2/{NAME}/manifests/v2", headers, body, len(interrupted)
        ) as new_tag,
    ):
        _sync_barrier(berth_process)
        berth_process.kill()
        for conn in (retag, new_tag):
            with pytest.raises(DISCONNECTED):
                conn.getresponse()

    berth_process.start()
    with _client(berth_process) as client:
        for reference in ("v1", kept_digest):
            response = client.get(
                f"/v2/{NAME}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
            )
            assert response.status_code == 200, response.text
            assert response.content == kept
            assert response.headers["Docker-Content-Digest"] == kept_digest
            assert response.headers["Content-Type"] == OCI_MANIFEST
        for reference in ("v2", sha256(interrupted)):
            response = client.get(f"/v2/{NAME}/manifests/{reference}")
            assert response.status_code == 404, response.text
            assert error_code(response) == "MANIFEST_UNKNOWN"
        assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1"]
        # The tag is free for a complete push.
        put = client.put(f"/v2/{NAME}/manifests/v2", content=interrupted, headers=headers)
        assert put.status_code == 201, put.text
        assert client.get(f"/v2/{NAME}/manifests/v2").content == interrupted


# kill -9 at a random moment under concurrent pushes


@dataclass
class Pushed:
    name: str
    tag: str
    digest: str
    manifest: bytes
    blobs: dict[str, bytes]


@dataclass
class PushLog:
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: list[Pushed] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


SHARED_LAYER = random.Random(0).randbytes(64 * 1024)


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response


def _upload(client: httpx.Client, name: str, data: bytes, chunked: bool) -> None:
    digest = sha256(data)
    if not chunked:
        _expect(
            client.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data), 201
        )
        return
    location = _expect(client.post(f"/v2/{name}/blobs/uploads/"), 202).headers["Location"]
    middle = len(data) // 2
    for start, part in ((0, data[:middle]), (middle, data[middle:])):
        headers = {"Content-Range": f"{start}-{start + len(part) - 1}"}
        location = _expect(client.patch(location, content=part, headers=headers), 202).headers[
            "Location"
        ]
    _expect(client.put(location, params={"digest": digest}), 201)


def _pusher(url: str, password: str, name: str, prefix: str, seed: int, log: PushLog) -> None:
    rng = random.Random(seed)
    number = 0
    try:
        with httpx.Client(base_url=url, timeout=10, auth=("AWS", password)) as client:
            while True:
                number += 1
                config = f'{{"os":"linux","architecture":"amd64","n":"{prefix}-{number}"}}'
                blobs = [config.encode(), SHARED_LAYER, rng.randbytes(rng.randint(1, 400_000))]
                for index, blob in enumerate(blobs):
                    _upload(client, name, blob, chunked=index == 2 and rng.random() < 0.5)
                manifest = image_manifest(blobs[0], blobs[1:])
                tag = f"{prefix}-{number}"
                response = client.put(
                    f"/v2/{name}/manifests/{tag}",
                    content=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                _expect(response, 201)
                digest = response.headers["Docker-Content-Digest"]
                pushed = Pushed(name, tag, digest, manifest, {sha256(b): b for b in blobs})
                with log.lock:
                    log.acknowledged.append(pushed)
    except httpx.TransportError as exc:
        if not log.killed.is_set():
            log.errors.append(f"{name}: {exc!r} before the kill")
    except Exception as exc:
        log.errors.append(f"{name}: {exc!r}")


def _verify(berth: BerthProcess, images: list[Pushed], seed: int) -> None:
    with _client(berth) as client:
        for image in images:
            where = f"{image.name}:{image.tag} (seed {seed})"
            for reference in (image.tag, image.digest):
                response = client.get(
                    f"/v2/{image.name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
                )
                assert response.status_code == 200, (where, response.text)
                assert response.content == image.manifest, where
                assert response.headers["Docker-Content-Digest"] == image.digest, where
            assert sha256(image.manifest) == image.digest, where
            for digest, data in image.blobs.items():
                response = client.get(f"/v2/{image.name}/blobs/{digest}")
                assert response.status_code == 200, (where, digest, response.text)
                assert response.content == data, (where, digest)
    # No torn blob anywhere: every stored file hashes to its name.
    for path in (berth.data_dir / "blobs" / "sha256").glob("*/*"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, (path, seed)


def test_random_kills_during_concurrent_pushes(berth_process: BerthProcess) -> None:
    seed = random.SystemRandom().randrange(1 << 32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    everything: list[Pushed] = []
    for round_number in range(3):
        berth_process.start()
        _verify(berth_process, everything, seed)
        password = berth_process.password()
        log = PushLog()
        threads = [
            threading.Thread(
                target=_pusher,
                args=(
                    berth_process.url,
                    password,
                    f"loop/p{i}",
                    f"r{round_number}t{i}",
                    seed + i,
                    log,
                ),
                daemon=True,
            )
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        _wait_for(lambda log=log: bool(log.acknowledged or log.errors), "a first push", 30)
        time.sleep(rng.uniform(0, 0.8))
        log.killed.set()
        berth_process.kill()
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive()
        assert log.errors == [], f"seed {seed}"
        assert log.acknowledged, f"seed {seed}"
        everything.extend(log.acknowledged)
    berth_process.start()
    _verify(berth_process, everything, seed)
    with _client(berth_process) as client:
        for name in ("loop/p0", "loop/p1"):
            tags = set(client.get(f"/v2/{name}/tags/list", params={"n": 1000}).json()["tags"])
            assert {i.tag for i in everything if i.name == name} <= tags, f"seed {seed}"
