"""Blob reads, monolithic and chunked uploads, mounts and deletes over real HTTP."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from tests.api.helpers import error_code, push_blob, sha256
from tests.conftest import RunningRegistry

NAME = "team/app"


def test_base_endpoint_answers_with_api_version(registry: RunningRegistry) -> None:
    response = registry.client.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_upload_then_get_and_head(registry: RunningRegistry) -> None:
    data = os.urandom(300_000)
    digest = push_blob(registry.client, NAME, data)
    get = registry.client.get(f"/v2/{NAME}/blobs/{digest}")
    assert get.status_code == 200
    assert get.content == data
    assert get.headers["Docker-Content-Digest"] == digest
    head = registry.client.head(f"/v2/{NAME}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.content == b""


def test_range_request_resumes_a_download(registry: RunningRegistry) -> None:
    data = os.urandom(10_000)
    digest = push_blob(registry.client, NAME, data)
    response = registry.client.get(
        f"/v2/{NAME}/blobs/{digest}", headers={"Range": "bytes=1000-1999"}
    )
    assert response.status_code == 206
    assert response.content == data[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"


@pytest.mark.parametrize("size", [10_000, 300_000], ids=["in-the-database", "in-a-file"])
@pytest.mark.parametrize(
    ("header", "part"),
    [
        ("bytes=1000-1999", slice(1000, 2000)),
        ("bytes=-500", slice(-500, None)),
        ("bytes=9000-", slice(9000, None)),
        ("bytes=0-0", slice(0, 1)),
        ("bytes=5000000-", None),  # past the end
        ("bytes=abc", None),  # malformed
    ],
)
def test_ranges_are_served_alike_from_the_database_and_from_files(
    registry: RunningRegistry, size: int, header: str, part: slice | None
) -> None:
    """Small blobs are kept by the database, larger ones in files: a client cannot tell."""
    data = os.urandom(size)
    digest = push_blob(registry.client, NAME, data)
    response = registry.client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": header})
    if part is None:
        assert response.status_code == 416
        assert response.headers["Content-Range"] == f"bytes */{size}"
        return
    first, stop, _ = part.indices(size)
    assert response.status_code == 206
    assert response.content == data[part]
    assert response.headers["Content-Range"] == f"bytes {first}-{stop - 1}/{size}"
    assert response.headers["Docker-Content-Digest"] == digest


def test_post_then_put_upload(registry: RunningRegistry) -> None:
    data = b"post then put"
    start = registry.client.post(f"/v2/{NAME}/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["Location"]
    assert start.headers["Docker-Upload-UUID"] in location
    done = registry.client.put(location, params={"digest": sha256(data)}, content=data)
    assert done.status_code == 201
    assert done.headers["Location"] == f"/v2/{NAME}/blobs/{sha256(data)}"
    assert registry.client.get(done.headers["Location"]).content == data


def test_chunked_upload_with_status_and_ranges(registry: RunningRegistry) -> None:
    data = os.urandom(25_000)
    chunks = [data[:10_000], data[10_000:20_000], data[20_000:]]
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    offset = 0
    for chunk in chunks:
        response = registry.client.patch(
            location,
            content=chunk,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
        )
        assert response.status_code == 202, response.text
        offset += len(chunk)
        assert response.headers["Range"] == f"0-{offset - 1}"
        location = response.headers["Location"]
        status = registry.client.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == f"0-{offset - 1}"
    done = registry.client.put(location, params={"digest": sha256(data)})
    assert done.status_code == 201
    assert registry.client.get(f"/v2/{NAME}/blobs/{sha256(data)}").content == data


def test_streamed_patch_without_content_range(registry: RunningRegistry) -> None:
    data = os.urandom(50_000)

    def stream():  # chunked transfer encoding, as docker and podman send it
        for i in range(0, len(data), 7_000):
            yield data[i : i + 7_000]

    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    response = registry.client.patch(location, content=stream())
    assert response.status_code == 202
    assert response.headers["Range"] == f"0-{len(data) - 1}"
    done = registry.client.put(response.headers["Location"], params={"digest": sha256(data)})
    assert done.status_code == 201


def test_out_of_order_chunk_is_416_with_current_range(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    first = registry.client.patch(location, content=b"12345", headers={"Content-Range": "0-4"})
    assert first.status_code == 202
    gap = registry.client.patch(location, content=b"67890", headers={"Content-Range": "10-14"})
    assert gap.status_code == 416
    assert gap.headers["Range"] == "0-4"
    overlap = registry.client.patch(location, content=b"67890", headers={"Content-Range": "3-7"})
    assert overlap.status_code == 416
    assert registry.client.get(location).headers["Range"] == "0-4"


def test_final_put_with_a_misplaced_range_is_416(registry: RunningRegistry) -> None:
    data = b"0123456789"
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    registry.client.patch(location, content=data[:4], headers={"Content-Range": "0-3"})
    misplaced = registry.client.put(
        location,
        params={"digest": sha256(data)},
        content=data[6:],
        headers={"Content-Range": "6-9"},
    )
    assert misplaced.status_code == 416
    assert misplaced.headers["Range"] == "0-3"
    done = registry.client.put(
        location,
        params={"digest": sha256(data)},
        content=data[4:],
        headers={"Content-Range": "4-9"},
    )
    assert done.status_code == 201
    assert registry.client.get(f"/v2/{NAME}/blobs/{sha256(data)}").content == data


def test_content_range_must_agree_with_content_length(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    response = registry.client.patch(location, content=b"12345", headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"
    assert registry.client.get(location).headers["Range"] == "0-0"


def test_digest_mismatch_stores_nothing(registry: RunningRegistry) -> None:
    wrong = sha256(b"something else")
    response = registry.client.post(
        f"/v2/{NAME}/blobs/uploads/", params={"digest": wrong}, content=b"actual"
    )
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert registry.client.head(f"/v2/{NAME}/blobs/{wrong}").status_code == 404
    blobs = registry.settings.data_dir / "blobs"
    assert not list(blobs.rglob("*")) or all(p.is_dir() for p in blobs.rglob("*"))
    assert not list((registry.settings.data_dir / "uploads").iterdir())


def test_chunked_digest_mismatch_discards_the_upload(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    registry.client.patch(location, content=b"abc")
    response = registry.client.put(location, params={"digest": sha256(b"xyz")})
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    assert registry.client.get(location).status_code == 404


def test_sha512_blob(registry: RunningRegistry) -> None:
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    registry.client.patch(location, content=data)
    assert registry.client.put(location, params={"digest": digest}).status_code == 201
    assert registry.client.get(f"/v2/{NAME}/blobs/{digest}").content == data
    mono = registry.client.post(
        f"/v2/{NAME}/blobs/uploads/",
        params={"digest": "sha512:" + hashlib.sha512(b"x").hexdigest()},
        content=b"x",
    )
    assert mono.status_code == 201


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "sha256:" + "G" * 64,
        "sha256:" + "A" * 64,
        "md5:" + "a" * 32,
        "nocolon",
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
    ],
)
def test_malformed_or_unsupported_digests(registry: RunningRegistry, digest: str) -> None:
    push_blob(registry.client, NAME, b"exists")
    for response in (
        registry.client.get(f"/v2/{NAME}/blobs/{digest}"),
        registry.client.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": digest}, content=b"x"),
    ):
        assert response.status_code == 400, (digest, response.text)
        assert error_code(response) == "DIGEST_INVALID"


def test_blob_known_elsewhere_is_unknown_here(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, "other/repo", b"private layer")
    push_blob(registry.client, NAME, b"mine")
    response = registry.client.get(f"/v2/{NAME}/blobs/{digest}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UNKNOWN"


def test_unknown_repository_is_name_unknown(registry: RunningRegistry) -> None:
    response = registry.client.get(f"/v2/nope/nothing/blobs/{sha256(b'x')}")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


def test_cross_repository_mount(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, "source/repo", b"shared layer")
    mounted = registry.client.post(
        f"/v2/{NAME}/blobs/uploads/", params={"mount": digest, "from": "source/repo"}
    )
    assert mounted.status_code == 201
    assert mounted.headers["Location"] == f"/v2/{NAME}/blobs/{digest}"
    assert registry.client.get(f"/v2/{NAME}/blobs/{digest}").content == b"shared layer"


def test_mount_falls_back_to_an_upload(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, "source/repo", b"shared layer")
    for source in ("missing/repo", "source/repo-other"):
        response = registry.client.post(
            f"/v2/{NAME}/blobs/uploads/", params={"mount": digest, "from": source}
        )
        assert response.status_code == 202
        assert "/blobs/uploads/" in response.headers["Location"]
    unknown = sha256(b"never pushed")
    response = registry.client.post(
        f"/v2/{NAME}/blobs/uploads/", params={"mount": unknown, "from": "source/repo"}
    )
    assert response.status_code == 202


def test_automatic_content_discovery_mount(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, "source/repo", b"discoverable")
    response = registry.client.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201
    assert registry.client.head(f"/v2/{NAME}/blobs/{digest}").status_code == 200


def test_upload_id_of_another_repository_is_unknown(registry: RunningRegistry) -> None:
    push_blob(registry.client, NAME, b"repo exists")
    other = registry.client.post("/v2/other/repo/blobs/uploads/").headers["Docker-Upload-UUID"]
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = registry.client.request(
            method, f"/v2/{NAME}/blobs/uploads/{other}", params={"digest": sha256(b"")}
        )
        assert response.status_code == 404, method
        assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"
    assert registry.client.get(f"/v2/other/repo/blobs/uploads/{other}").status_code == 204


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "..%2F..%2Fetc", str(uuid.uuid4())])
def test_unknown_upload_ids(registry: RunningRegistry, upload_id: str) -> None:
    push_blob(registry.client, NAME, b"repo exists")
    response = registry.client.get(f"/v2/{NAME}/blobs/uploads/{upload_id}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


def test_cancel_upload(registry: RunningRegistry) -> None:
    location = registry.client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    registry.client.patch(location, content=b"partial")
    assert registry.client.delete(location).status_code == 204
    assert registry.client.get(location).status_code == 404
    assert not list((registry.settings.data_dir / "uploads").iterdir())


def test_delete_blob_unlinks_it(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, NAME, b"to delete")
    assert registry.client.delete(f"/v2/{NAME}/blobs/{digest}").status_code == 202
    again = registry.client.get(f"/v2/{NAME}/blobs/{digest}")
    assert again.status_code == 404
    assert error_code(again) == "BLOB_UNKNOWN"
    assert registry.client.delete(f"/v2/{NAME}/blobs/{digest}").status_code == 404


def test_empty_blob(registry: RunningRegistry) -> None:
    digest = push_blob(registry.client, NAME, b"")
    response = registry.client.get(f"/v2/{NAME}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b""
