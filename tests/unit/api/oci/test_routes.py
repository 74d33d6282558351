"""The OCI route table: which handler a path and method reach, and the memo of read matches."""

from __future__ import annotations

import pytest

from berth.api.oci import blobs, manifests, routes

DIGEST = "sha256:" + "a" * 64
UPLOAD = "0f3c1a52-6a0e-4a5c-9a3e-2b8f0e4c1d2e"


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    routes._READ_MATCHES.clear()


@pytest.mark.parametrize(
    ("path", "method", "handler", "params"),
    [
        ("", "GET", routes._base, {}),
        ("_catalog", "GET", manifests.catalog, {}),
        ("a/b/tags/list", "GET", manifests.list_tags, {"name": "a/b"}),
        (
            "a/manifests/latest",
            "HEAD",
            manifests.get_manifest,
            {"name": "a", "reference": "latest"},
        ),
        ("a/manifests/v1", "PUT", manifests.put_manifest, {"name": "a", "reference": "v1"}),
        ("a/blobs/uploads/", "POST", blobs.start_upload, {"name": "a"}),
        (
            "a/blobs/uploads/" + UPLOAD,
            "PATCH",
            blobs.patch_upload,
            {"name": "a", "upload_id": UPLOAD},
        ),
        (
            "a/blobs/uploads/" + UPLOAD,
            "GET",
            blobs.upload_status,
            {"name": "a", "upload_id": UPLOAD},
        ),
        ("a/blobs/" + DIGEST, "HEAD", blobs.get_blob, {"name": "a", "digest": DIGEST}),
        # A repository whose name contains a route keyword still reaches the right route.
        (
            "x/blobs/uploads/blobs/" + DIGEST,
            "GET",
            blobs.get_blob,
            {"name": "x/blobs/uploads", "digest": DIGEST},
        ),
        (
            "a/manifests/blobs/" + DIGEST,
            "GET",
            blobs.get_blob,
            {"name": "a/manifests", "digest": DIGEST},
        ),
        ("a/referrers/" + DIGEST, "GET", manifests.list_referrers, {"name": "a", "digest": DIGEST}),
    ],
)
def test_routes(path: str, method: str, handler: object, params: dict[str, str]) -> None:
    for _ in range(2):  # the second read comes from the memo
        route, found, known = routes._match(path, method)
        assert known
        assert route is not None and route[0] is handler
        assert found == params


def test_unknown_path_and_unsupported_method() -> None:
    assert routes._match("a/nothing/here", "GET") == (None, {}, False)
    route, params, known = routes._match("a/blobs/" + DIGEST, "PATCH")
    assert route is None and known and params["digest"] == DIGEST


def test_memo_holds_reads_only_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "MAX_READ_MATCHES", 8)
    routes._match("a/blobs/uploads/" + UPLOAD, "PUT")
    assert routes._READ_MATCHES == {}
    for n in range(20):
        routes._match(f"r{n}/manifests/latest", "GET")
        assert len(routes._READ_MATCHES) <= 8
    route, params, _ = routes._match("r19/manifests/latest", "GET")
    assert route is not None and params == {"name": "r19", "reference": "latest"}
