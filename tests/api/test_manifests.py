"""Manifest push, pull, delete; tags, catalog and referrers over real HTTP."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import (
    CONFIG,
    LAYER,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    error_code,
    image_manifest,
    push_blob,
    push_image,
    sha256,
)
from tests.conftest import RunningRegistry

NAME = "team/app"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def put(registry: RunningRegistry, reference: str, body: bytes, content_type: str, name=NAME):
    return registry.client.put(
        f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": content_type}
    )


def test_push_and_pull_by_tag_and_digest_byte_for_byte(registry: RunningRegistry) -> None:
    digest, manifest = push_image(registry.client, NAME, "v1")
    assert digest == sha256(manifest)
    for reference in ("v1", digest):
        response = registry.client.get(
            f"/v2/{NAME}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
        )
        assert response.status_code == 200
        assert response.content == manifest
        assert response.headers["Content-Type"] == OCI_MANIFEST
        assert response.headers["Docker-Content-Digest"] == digest
        head = registry.client.head(f"/v2/{NAME}/manifests/{reference}")
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(manifest))
        assert head.headers["Docker-Content-Digest"] == digest


def test_put_response_headers(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = image_manifest(config, [layer])
    response = put(registry, "latest", manifest, OCI_MANIFEST)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/manifests/{sha256(manifest)}"
    assert response.headers["Docker-Content-Digest"] == sha256(manifest)
    assert "OCI-Subject" not in response.headers


def test_whitespace_is_preserved(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = json.dumps(json.loads(image_manifest(config, [layer])), indent=7).encode()
    digest = put(registry, "pretty", manifest, OCI_MANIFEST).headers["Docker-Content-Digest"]
    assert digest == sha256(manifest)
    assert registry.client.get(f"/v2/{NAME}/manifests/pretty").content == manifest


def test_docker_schema2_manifest_and_list(registry: RunningRegistry) -> None:
    config, layer = b'{"os":"linux"}', b"docker layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor("application/vnd.docker.container.image.v1+json", config),
            "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", layer)],
        }
    ).encode()
    assert put(registry, "docker", manifest, DOCKER_MANIFEST).status_code == 201
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {
                    **descriptor(DOCKER_MANIFEST, manifest),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    assert put(registry, "list", listing, DOCKER_LIST).status_code == 201
    response = registry.client.get(f"/v2/{NAME}/manifests/list")
    assert response.headers["Content-Type"] == DOCKER_LIST
    assert response.content == listing


def test_image_index_requires_its_children(registry: RunningRegistry) -> None:
    child, child_bytes = push_image(registry.client, NAME, "amd64")
    missing = sha256(b"not a manifest")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            descriptor(OCI_MANIFEST, child_bytes),
            {"mediaType": OCI_MANIFEST, "digest": missing, "size": 10},
        ],
    }
    response = put(registry, "multi", json.dumps(index).encode(), OCI_INDEX)
    assert response.status_code == 404
    assert error_code(response) == "MANIFEST_UNKNOWN"
    index["manifests"] = index["manifests"][:1]
    body = json.dumps(index).encode()
    assert put(registry, "multi", body, OCI_INDEX).status_code == 201
    # A child listed by an index cannot be deleted from under it.
    refused = registry.client.delete(f"/v2/{NAME}/manifests/{child}")
    assert refused.status_code == 409
    assert registry.client.delete(f"/v2/{NAME}/manifests/{sha256(body)}").status_code == 202
    assert registry.client.delete(f"/v2/{NAME}/manifests/{child}").status_code == 202


def test_manifest_blob_unknown(registry: RunningRegistry) -> None:
    config = b"{}"
    push_blob(registry.client, NAME, config)
    manifest = image_manifest(config, [b"never uploaded"])
    response = put(registry, "broken", manifest, OCI_MANIFEST)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert registry.client.get(f"/v2/{NAME}/manifests/broken").status_code == 404


def test_blob_of_another_repository_does_not_satisfy_a_manifest(
    registry: RunningRegistry,
) -> None:
    config, layer = b"{}", b"elsewhere"
    push_blob(registry.client, "other/repo", layer)
    push_blob(registry.client, NAME, config)
    response = put(registry, "x", image_manifest(config, [layer]), OCI_MANIFEST)
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"


def test_push_by_digest_must_match(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = image_manifest(config, [layer])
    wrong = put(registry, sha256(b"other"), manifest, OCI_MANIFEST)
    assert wrong.status_code == 400
    assert error_code(wrong) == "DIGEST_INVALID"
    right = put(registry, sha256(manifest), manifest, OCI_MANIFEST)
    assert right.status_code == 201
    tags = registry.client.get(f"/v2/{NAME}/tags/list").json()["tags"]
    assert tags == []


def test_push_by_digest_with_tag_parameters(registry: RunningRegistry) -> None:
    config, layer = b"{}", b"layer"
    push_blob(registry.client, NAME, config)
    push_blob(registry.client, NAME, layer)
    manifest = image_manifest(config, [layer])
    response = registry.client.put(
        f"/v2/{NAME}/manifests/{sha256(manifest)}",
        params=[("tag", "a"), ("tag", "b")],
        content=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201
    assert response.headers["OCI-Tag"] == "a, b"
    assert registry.client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["a", "b"]


def test_retag_moves_the_tag(registry: RunningRegistry) -> None:
    first, _ = push_image(registry.client, NAME, "latest", seed=b"1")
    second, _ = push_image(registry.client, NAME, "latest", seed=b"2")
    assert first != second
    got = registry.client.head(f"/v2/{NAME}/manifests/latest")
    assert got.headers["Docker-Content-Digest"] == second
    assert registry.client.head(f"/v2/{NAME}/manifests/{first}").status_code == 200


def test_delete_by_tag_removes_only_the_tag(registry: RunningRegistry) -> None:
    digest, _ = push_image(registry.client, NAME, "v1")
    assert registry.client.delete(f"/v2/{NAME}/manifests/v1").status_code == 202
    gone = registry.client.get(f"/v2/{NAME}/manifests/v1")
    assert gone.status_code == 404
    assert error_code(gone) == "MANIFEST_UNKNOWN"
    assert registry.client.get(f"/v2/{NAME}/manifests/{digest}").status_code == 200


def test_delete_by_digest_removes_manifest_and_tags(registry: RunningRegistry) -> None:
    digest, _ = push_image(registry.client, NAME, "v1")
    registry.client.put(
        f"/v2/{NAME}/manifests/v2",
        content=registry.client.get(f"/v2/{NAME}/manifests/v1").content,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert registry.client.delete(f"/v2/{NAME}/manifests/{digest}").status_code == 202
    for reference in ("v1", "v2", digest):
        assert registry.client.get(f"/v2/{NAME}/manifests/{reference}").status_code == 404
    assert registry.client.delete(f"/v2/{NAME}/manifests/{digest}").status_code == 404


def test_blob_referenced_by_a_manifest_cannot_be_deleted(registry: RunningRegistry) -> None:
    digest, manifest = push_image(registry.client, NAME, "v1")
    layer = json.loads(manifest)["layers"][0]["digest"]
    refused = registry.client.delete(f"/v2/{NAME}/blobs/{layer}")
    assert refused.status_code == 409
    assert error_code(refused) == "DENIED"
    registry.client.delete(f"/v2/{NAME}/manifests/{digest}")
    assert registry.client.delete(f"/v2/{NAME}/blobs/{layer}").status_code == 202


def test_tags_list_order_and_pagination(registry: RunningRegistry) -> None:
    _digest, manifest = push_image(registry.client, NAME, "seed")
    names = ["b", "A", "a", "0", "_x", "a.b", "a-b", "Z9", "latest", "v1.10", "v1.9"]
    for tag in names:
        assert put(registry, tag, manifest, OCI_MANIFEST).status_code == 201
    everything = sorted([*names, "seed"])
    assert registry.client.get(f"/v2/{NAME}/tags/list").json() == {
        "name": NAME,
        "tags": everything,
    }
    collected, url = [], f"/v2/{NAME}/tags/list?n=5"
    while url:
        response = registry.client.get(url)
        collected += response.json()["tags"]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else ""
        if link:
            assert link.endswith('rel="next"')
    assert collected == everything
    last = registry.client.get(f"/v2/{NAME}/tags/list", params={"n": 3, "last": "a"}).json()
    assert last["tags"] == [t for t in everything if t > "a"][:3]
    empty = registry.client.get(f"/v2/{NAME}/tags/list", params={"n": 0})
    assert empty.json()["tags"] == []
    assert "Link" not in empty.headers
    exact = registry.client.get(f"/v2/{NAME}/tags/list", params={"n": len(everything)})
    assert "Link" not in exact.headers


@pytest.mark.parametrize("n", ["-1", "abc", "1.5", "²", "9" * 30])
def test_tags_list_rejects_bad_n(registry: RunningRegistry, n: str) -> None:
    push_image(registry.client, NAME, "v1")
    response = registry.client.get(f"/v2/{NAME}/tags/list", params={"n": n})
    assert response.status_code == 400
    assert error_code(response) == "PAGINATION_NUMBER_INVALID"


def test_tags_of_unknown_repository(registry: RunningRegistry) -> None:
    response = registry.client.get("/v2/missing/repo/tags/list")
    assert response.status_code == 404
    assert error_code(response) == "NAME_UNKNOWN"


def test_catalog_pagination(registry: RunningRegistry) -> None:
    names = ["zeta/app", "alpha", "alpha/nested", "mid-dle"]
    for name in names:
        push_blob(registry.client, name, b"x")
    assert registry.client.get("/v2/_catalog").json() == {"repositories": sorted(names)}
    first = registry.client.get("/v2/_catalog", params={"n": 2})
    assert first.json()["repositories"] == sorted(names)[:2]
    link = first.headers["Link"]
    second = registry.client.get(link[1 : link.index(">")])
    assert second.json()["repositories"] == sorted(names)[2:]
    assert "Link" not in second.headers


def artifact(registry: RunningRegistry, subject: bytes, artifact_type: str, seed: bytes) -> bytes:
    push_blob(registry.client, NAME, b"{}")
    push_blob(registry.client, NAME, seed)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
        "layers": [descriptor("application/octet-stream", seed)],
        "subject": descriptor(OCI_MANIFEST, subject),
        "annotations": {"org.example.seed": seed.decode()},
    }
    return json.dumps(doc).encode()


def test_referrers(registry: RunningRegistry) -> None:
    subject_digest, subject = push_image(registry.client, NAME, "v1")
    empty = registry.client.get(f"/v2/{NAME}/referrers/{subject_digest}")
    assert empty.status_code == 200
    assert empty.headers["Content-Type"] == OCI_INDEX
    assert empty.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}

    signature = artifact(registry, subject, "application/vnd.example.signature", b"sig")
    sbom = artifact(registry, subject, "application/vnd.example.sbom", b"sbom")
    for body in (signature, sbom):
        response = put(registry, sha256(body), body, OCI_MANIFEST)
        assert response.status_code == 201
        assert response.headers["OCI-Subject"] == subject_digest

    listing = registry.client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()
    assert {m["digest"] for m in listing["manifests"]} == {sha256(signature), sha256(sbom)}
    by_digest = {m["digest"]: m for m in listing["manifests"]}
    assert by_digest[sha256(sbom)] == {
        "mediaType": OCI_MANIFEST,
        "digest": sha256(sbom),
        "size": len(sbom),
        "artifactType": "application/vnd.example.sbom",
        "annotations": {"org.example.seed": "sbom"},
    }
    filtered = registry.client.get(
        f"/v2/{NAME}/referrers/{subject_digest}",
        params={"artifactType": "application/vnd.example.sbom"},
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sha256(sbom)]


def test_referrer_artifact_type_falls_back_to_config_media_type(
    registry: RunningRegistry,
) -> None:
    subject_digest, subject = push_image(registry.client, NAME, "v1")
    config = b'{"kind":"attestation"}'
    push_blob(registry.client, NAME, config)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.example.config",
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [],
        "subject": descriptor(OCI_MANIFEST, subject),
    }
    body = json.dumps(doc).encode()
    assert put(registry, "att", body, OCI_MANIFEST).status_code == 201
    listing = registry.client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()
    assert listing["manifests"][0]["artifactType"] == "application/vnd.example.config"


def test_subject_may_not_exist_yet(registry: RunningRegistry) -> None:
    push_blob(registry.client, NAME, b"{}")
    ghost = image_manifest(b"{}", [])
    body = artifact(registry, ghost, "application/vnd.example.signature", b"early")
    response = put(registry, sha256(body), body, OCI_MANIFEST)
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == sha256(ghost)


def test_referrers_of_a_repository_that_does_not_exist_yet(registry: RunningRegistry) -> None:
    response = registry.client.get(f"/v2/not/yet/referrers/{sha256(b'x')}")
    assert response.status_code == 200
    assert response.json()["manifests"] == []


def test_referrers_with_invalid_digest(registry: RunningRegistry) -> None:
    push_image(registry.client, NAME, "v1")
    response = registry.client.get(f"/v2/{NAME}/referrers/sha256:nothex")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_layer_media_types_are_free_for_artifacts(registry: RunningRegistry) -> None:
    data = b"helm chart bytes"
    push_blob(registry.client, NAME, data)
    push_blob(registry.client, NAME, b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": sha256(b"{}"),
            "size": 2,
        },
        "layers": [descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", data)],
    }
    assert put(registry, "0.1.0", json.dumps(doc).encode(), OCI_MANIFEST).status_code == 201


def test_foreign_layers_need_not_be_uploaded(registry: RunningRegistry) -> None:
    config = b"{}"
    push_blob(registry.client, NAME, config)
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", config),
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                "digest": sha256(b"windows base"),
                "size": 12,
                "urls": ["https://example.invalid/layer"],
            }
        ],
    }
    assert put(registry, "win", json.dumps(doc).encode(), DOCKER_MANIFEST).status_code == 201


def test_layer_and_config_descriptor(registry: RunningRegistry) -> None:
    # The descriptor helpers must agree with the media types the server was given.
    assert descriptor(CONFIG, b"x")["mediaType"] == CONFIG
    assert descriptor(LAYER, b"x")["size"] == 1
