"""Every bad input gets its spec error code, never a 500, and changes nothing on disk."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from pathlib import Path

import pytest

from tests.api.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    error_code,
    image_manifest,
    push_blob,
    push_image,
    sha256,
)
from tests.conftest import RunningRegistry

NAME = "team/app"


def snapshot(data_dir: Path) -> dict[str, int]:
    """Every file under the data folder but the database, with its size."""
    return {
        str(p.relative_to(data_dir)): p.stat().st_size
        for p in data_dir.rglob("*")
        if p.is_file() and not p.name.startswith("berth.db")
    }


def raw_request(
    registry: RunningRegistry,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    """http.client does not normalise paths the way httpx does."""
    conn = http.client.HTTPConnection("127.0.0.1", registry.settings.port, timeout=10)
    try:
        conn.request(
            method,
            path,
            body=body,
            headers={"Authorization": registry.authorization, **(headers or {})},
        )
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else {}
    finally:
        conn.close()


@pytest.mark.parametrize(
    "name",
    [
        "Team/App",
        "a//b",
        "a/../b",
        "a/./b",
        "a..b",
        "-leading",
        "trailing-",
        "x",
        "a" * 257,
        "/".join(["abcdefgh"] * 40),
        "a_-b",
        "a%2Fb",
    ],
)
def test_invalid_repository_names(registry: RunningRegistry, name: str) -> None:
    before = snapshot(registry.settings.data_dir)
    for method, suffix in (
        ("POST", "/blobs/uploads/"),
        ("GET", "/tags/list"),
        ("GET", f"/blobs/{sha256(b'x')}"),
        ("PUT", "/manifests/v1"),
    ):
        status, body = raw_request(registry, method, f"/v2/{name}{suffix}", b"{}")
        assert status == 400, (name, method, body)
        assert body["errors"][0]["code"] == "NAME_INVALID"
    assert snapshot(registry.settings.data_dir) == before
    assert registry.client.get("/v2/_catalog").json()["repositories"] == []


def test_longest_valid_name_is_accepted(registry: RunningRegistry) -> None:
    name = "/".join(["a" * 63] * 4) + "b"
    assert len(name) == 256
    push_blob(registry.client, name, b"ok")


@pytest.mark.parametrize("tag", ["a" * 129, "-dash", ".dot", "has space", "semi;colon", "ü"])
def test_invalid_tags(registry: RunningRegistry, tag: str) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    response = registry.client.put(
        f"/v2/{NAME}/manifests/{tag}",
        content=image_manifest(config, [layer]),
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 400
    assert error_code(response) == "TAG_INVALID"
    assert registry.client.get(f"/v2/{NAME}/tags/list").json()["tags"] == []


def test_tag_of_128_characters_is_fine(registry: RunningRegistry) -> None:
    push_image(registry.client, NAME, "t" * 128)
    assert registry.client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["t" * 128]


def put_manifest(registry: RunningRegistry, body: bytes, content_type: str, ref: str = "v1"):
    return registry.client.put(
        f"/v2/{NAME}/manifests/{ref}", content=body, headers={"Content-Type": content_type}
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        (b"[]", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        (b"\xff\xfe", OCI_MANIFEST, 400, "MANIFEST_INVALID"),
        (
            b'{"schemaVersion": 2, "mediaType": "' + OCI_INDEX.encode() + b'", "manifests": []}',
            OCI_MANIFEST,
            400,
            "MANIFEST_INVALID",
        ),
        (
            b'{"schemaVersion": 1, "name": "x", "tag": "v1", "fsLayers": []}',
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            400,
            "MANIFEST_INVALID",
        ),
        (
            b'{"schemaVersion": 2, "mediaType": "application/vnd.example.unknown+json"}',
            "application/vnd.example.unknown+json",
            415,
            "UNSUPPORTED",
        ),
        (
            b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'", "layers": []}',
            OCI_MANIFEST,
            400,
            "MANIFEST_INVALID",
        ),
        (
            b'{"schemaVersion": 2, "mediaType": "'
            + OCI_MANIFEST.encode()
            + b'", "config": {"mediaType": "x", "digest": "sha256:zz", "size": 1}, "layers": []}',
            OCI_MANIFEST,
            400,
            "MANIFEST_INVALID",
        ),
        (
            b'{"schemaVersion": 2, "mediaType": "'
            + OCI_MANIFEST.encode()
            + b'", "config": {"mediaType": "x", "digest": "'
            + sha256(b"{}").encode()
            + b'", "size": -1}, "layers": []}',
            OCI_MANIFEST,
            400,
            "MANIFEST_INVALID",
        ),
        (b'{"schemaVersion": 3, "manifests": []}', OCI_INDEX, 400, "MANIFEST_INVALID"),
    ],
)
def test_invalid_manifests(
    registry: RunningRegistry, body: bytes, content_type: str, status: int, code: str
) -> None:
    push_blob(registry.client, NAME, b"{}")
    before = snapshot(registry.settings.data_dir)
    response = put_manifest(registry, body, content_type)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert registry.client.get(f"/v2/{NAME}/manifests/v1").status_code == 404
    assert snapshot(registry.settings.data_dir) == before


def test_content_type_contradicting_media_type(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    body = image_manifest(config, [layer])
    response = put_manifest(registry, body, "application/vnd.docker.distribution.manifest.v2+json")
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"
    assert "does not match" in response.json()["errors"][0]["message"]


def test_manifest_over_4_mib(registry: RunningRegistry) -> None:
    config = b"{}"
    push_blob(registry.client, NAME, config)
    padding = {"org.example.pad": "x" * (4 * 1024 * 1024)}
    body = image_manifest(config, [], annotations=padding)
    response = put_manifest(registry, body, OCI_MANIFEST)
    assert response.status_code == 413
    assert error_code(response) == "MANIFEST_INVALID"

    def stream():  # no Content-Length: the limit holds while reading
        yield body

    streamed = registry.client.put(
        f"/v2/{NAME}/manifests/v1", content=stream(), headers={"Content-Type": OCI_MANIFEST}
    )
    assert streamed.status_code == 413


def test_manifest_without_media_type_uses_content_type(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    doc = json.loads(image_manifest(config, [layer]))
    del doc["mediaType"]
    body = json.dumps(doc).encode()
    assert put_manifest(registry, body, OCI_MANIFEST).status_code == 201
    assert registry.client.get(f"/v2/{NAME}/manifests/v1").headers["Content-Type"] == OCI_MANIFEST


def test_invalid_references_on_get(registry: RunningRegistry) -> None:
    push_image(registry.client, NAME, "v1")
    assert error_code(registry.client.get(f"/v2/{NAME}/manifests/sha256:12")) == "DIGEST_INVALID"
    # A tag that could never exist is not found (what the conformance suite expects).
    for method in ("GET", "HEAD", "DELETE"):
        response = registry.client.request(method, f"/v2/{NAME}/manifests/.INVALID_NAME")
        assert response.status_code == 404
    missing = registry.client.get(f"/v2/{NAME}/manifests/{sha256(b'none')}")
    assert missing.status_code == 404
    assert error_code(missing) == "MANIFEST_UNKNOWN"


def send_raw(registry: RunningRegistry, head: bytes, body: bytes, shutdown: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", registry.settings.port), timeout=10) as sock:
        sock.sendall(head + body)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_body_shorter_than_content_length_stores_nothing(registry: RunningRegistry) -> None:
    push_blob(registry.client, NAME, b"exists")
    data = os.urandom(1000)
    before = snapshot(registry.settings.data_dir)
    head = (
        f"POST /v2/{NAME}/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {registry.authorization}\r\n"
        "Content-Length: 5000\r\n\r\n"
    ).encode()
    send_raw(registry, head, data)
    assert registry.client.head(f"/v2/{NAME}/blobs/{sha256(data)}").status_code == 404
    # The server drops the connection as soon as the body breaks off; its clean-up of the
    # partial file may finish a moment after the client has seen that.
    deadline = time.monotonic() + 5
    while snapshot(registry.settings.data_dir) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snapshot(registry.settings.data_dir) == before


def test_body_longer_than_declared_is_not_taken(registry: RunningRegistry) -> None:
    push_blob(registry.client, NAME, b"exists")
    data = os.urandom(1000)
    head = (
        f"POST /v2/{NAME}/blobs/uploads/?digest={sha256(data[:500])} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {registry.authorization}\r\n"
        "Content-Length: 500\r\n\r\n"
    ).encode()
    reply = send_raw(registry, head, data)
    # Only the declared 500 bytes can be the blob; the rest is a malformed next request.
    assert b" 500 " not in reply
    assert registry.client.head(f"/v2/{NAME}/blobs/{sha256(data)}").status_code == 404
    stored = registry.client.get(f"/v2/{NAME}/blobs/{sha256(data[:500])}")
    if reply.startswith(b"HTTP/1.1 201"):
        assert stored.content == data[:500]
    else:
        assert stored.status_code == 404


def test_patch_with_content_length_disagreeing_with_range(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    response = registry.client.patch(
        location, content=b"abc", headers={"Content-Range": "0-2", "Content-Length": "3"}
    )
    assert response.status_code == 202
    malformed = registry.client.patch(location, content=b"d", headers={"Content-Range": "bytes=x"})
    assert malformed.status_code == 400
    assert error_code(malformed) == "BLOB_UPLOAD_INVALID"
    backwards = registry.client.patch(location, content=b"d", headers={"Content-Range": "5-3"})
    assert backwards.status_code == 400
    assert registry.client.get(location).headers["Range"] == "0-2"


def test_complete_without_digest(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    response = registry.client.put(location, content=b"abc")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert registry.client.get(location).status_code == 204


def test_unknown_endpoint_and_method(registry: RunningRegistry) -> None:
    assert registry.client.get("/v2/team/app/whatever").status_code == 404
    response = registry.client.request("PATCH", f"/v2/{NAME}/manifests/v1")
    assert response.status_code == 405
    assert error_code(response) == "UNSUPPORTED"
