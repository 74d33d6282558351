"""The ECR registry login on `/v2/` of a real `berth serve`: the challenge, refused passwords,
anonymous pull, and pushes to repositories that do not exist when create-on-push is off."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.api.helpers import (
    OCI_MANIFEST,
    error_code,
    image_manifest,
    push_blob,
    push_image,
    sha256,
)
from tests.conftest import ROOT_SECRET, ecr_client
from tests.e2e.conftest import BerthProcess

pytestmark = pytest.mark.e2e

NAME = "login/app"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assert_challenged(berth: BerthProcess, response: httpx.Response) -> None:
    """ECR's answer to a missing or refused login: 401, a Basic challenge, plain text."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == 401, (where, response.text)
    assert response.headers["Www-Authenticate"] == (
        f'Basic realm="http://127.0.0.1:{berth.port}/",service="ecr.amazonaws.com"'
    ), where
    if response.request.method != "HEAD":
        assert response.headers["Content-Type"].startswith("text/plain"), where
        assert response.text == "Not Authorized", where


def test_v2_without_credentials_is_challenged(berth_process: BerthProcess) -> None:
    berth_process.start()
    with httpx.Client(base_url=berth_process.url, timeout=30) as anonymous:
        for method, path in [
            ("GET", "/v2/"),
            ("GET", "/v2"),
            ("HEAD", "/v2/"),
            ("GET", "/v2/_catalog"),
            ("GET", f"/v2/{NAME}/manifests/latest"),
            ("HEAD", f"/v2/{NAME}/manifests/latest"),
            ("GET", f"/v2/{NAME}/tags/list"),
            ("POST", f"/v2/{NAME}/blobs/uploads/"),
            ("PUT", f"/v2/{NAME}/manifests/latest"),
            ("DELETE", f"/v2/{NAME}/manifests/latest"),
            ("GET", "/v2/no/such/endpoint"),
        ]:
            _assert_challenged(berth_process, anonymous.request(method, path))
    with berth_process.client(timeout=30) as client:
        response = client.get("/v2/")
        assert response.status_code == 200, response.text
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_wrong_credentials_are_refused(berth_process: BerthProcess) -> None:
    berth_process.start()
    password = berth_process.password()
    sealed, mac = password.rsplit(".", 1)
    tampered = f"{sealed}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}"
    refused = {
        "wrong password": _basic("AWS", "not-a-registry-password"),
        "tampered password": _basic("AWS", tampered),
        "secret access key as password": _basic("AWS", ROOT_SECRET),
        "other user": _basic("admin", password),
        "no password": _basic("AWS", ""),
        "bearer": f"Bearer {password}",
        "not base64": "Basic %%%",
    }
    with httpx.Client(base_url=berth_process.url, timeout=30) as http:
        for label, authorization in refused.items():
            for method, path in [("GET", "/v2/"), ("POST", f"/v2/{NAME}/blobs/uploads/")]:
                response = http.request(method, path, headers={"Authorization": authorization})
                try:
                    _assert_challenged(berth_process, response)
                except AssertionError as exc:
                    raise AssertionError(f"{label}: {exc}") from exc
        # The genuine password, for contrast.
        response = http.get("/v2/", headers={"Authorization": _basic("AWS", password)})
        assert response.status_code == 200, response.text


def test_anonymous_pull_allows_reads_but_not_writes(berth_process: BerthProcess) -> None:
    berth_process.start(env={"BERTH_ANONYMOUS_PULL": "1"})
    with berth_process.client(timeout=30) as client:
        digest, manifest = push_image(client, NAME, "v1")
    pushed = json.loads(manifest)
    config, layer = b'{"architecture":"amd64","os":"linux","seed":"anon"}', b"anonymous layer"
    with httpx.Client(base_url=berth_process.url, timeout=30) as anonymous:
        for reference in ("v1", digest):
            response = anonymous.get(
                f"/v2/{NAME}/manifests/{reference}", headers={"Accept": OCI_MANIFEST}
            )
            assert response.status_code == 200, response.text
            assert response.content == manifest
            assert response.headers["Docker-Content-Digest"] == digest
            head = anonymous.head(f"/v2/{NAME}/manifests/{reference}")
            assert head.status_code == 200
        for descriptor in [pushed["config"], *pushed["layers"]]:
            blob = anonymous.get(f"/v2/{NAME}/blobs/{descriptor['digest']}")
            assert blob.status_code == 200, blob.text
            assert sha256(blob.content) == descriptor["digest"]
        assert anonymous.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1"]

        # Writes still need the login.
        _assert_challenged(berth_process, anonymous.post(f"/v2/{NAME}/blobs/uploads/"))
        _assert_challenged(
            berth_process,
            anonymous.post(
                f"/v2/{NAME}/blobs/uploads/",
                params={"digest": sha256(layer)},
                content=layer,
            ),
        )
        _assert_challenged(
            berth_process,
            anonymous.put(
                f"/v2/{NAME}/manifests/v2",
                content=image_manifest(config, [layer]),
                headers={"Content-Type": OCI_MANIFEST},
            ),
        )
        _assert_challenged(berth_process, anonymous.delete(f"/v2/{NAME}/manifests/{digest}"))
        _assert_challenged(berth_process, anonymous.post("/v2/login/new/blobs/uploads/"))
    with berth_process.client(timeout=30) as client:
        assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1"]
        assert client.get(f"/v2/{NAME}/manifests/{digest}").content == manifest
        assert client.get("/v2/_catalog").json()["repositories"] == [NAME]


def test_push_to_a_missing_repository_without_create_on_push(berth_process: BerthProcess) -> None:
    berth_process.start(env={"BERTH_CREATE_ON_PUSH": "0"})
    missing = "login/missing"
    message = (
        f"The repository with name '{missing}' does not exist in the registry with id "
        "'000000000000'"
    )
    config, layer = b'{"architecture":"amd64","os":"linux"}', b"a layer"
    manifest = image_manifest(config, [layer])
    with berth_process.client(timeout=30) as client:
        for response in (
            client.post(f"/v2/{missing}/blobs/uploads/"),
            client.post(
                f"/v2/{missing}/blobs/uploads/",
                params={"digest": sha256(layer)},
                content=layer,
            ),
            client.put(
                f"/v2/{missing}/manifests/v1",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            ),
        ):
            where = f"{response.request.method} {response.request.url.path}"
            assert response.status_code == 404, (where, response.text)
            assert error_code(response) == "NAME_UNKNOWN", where
            assert response.json()["errors"][0]["message"] == message, where
        assert client.get("/v2/_catalog").json()["repositories"] == []

        # `aws ecr create-repository` first, and the same push goes through.
        ecr_client(berth_process.url).create_repository(repositoryName=missing)
        for blob in (config, layer):
            push_blob(client, missing, blob)
        put = client.put(
            f"/v2/{missing}/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert put.status_code == 201, put.text
        assert client.get(f"/v2/{missing}/manifests/v1").content == manifest
