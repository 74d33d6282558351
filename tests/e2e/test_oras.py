"""The ORAS Python SDK against a real `berth serve`: artifacts with custom media types, and the
referrers API (subject, `OCI-Subject`, `artifactType` filtering)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import oras.client
import oras.oci
import pytest

from tests.api.helpers import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, sha256
from tests.e2e.conftest import BerthProcess

pytestmark = pytest.mark.e2e

TITLE = "org.opencontainers.image.title"

APP_CONFIG = "application/vnd.berth.e2e.app.config.v1+json"
APP_DATA = "application/vnd.berth.e2e.data.v1+json"
SBOM_CONFIG = "application/vnd.berth.e2e.sbom.v1+json"
SIGNATURE = "application/vnd.berth.e2e.signature.v1"


@pytest.fixture
def berth(
    berth_process: BerthProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> BerthProcess:
    # The SDK looks for Docker credentials under HOME / DOCKER_CONFIG: keep it hermetic.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "home" / ".docker"))
    berth_process.start()
    return berth_process


@pytest.fixture
def client(berth: BerthProcess, tmp_path: Path) -> Iterator[oras.client.OrasClient]:
    # ECR's registry login is HTTP Basic with user AWS (no token service behind the realm).
    sdk = oras.client.OrasClient(hostname=berth.host, insecure=True, auth_backend="basic")
    docker_config = tmp_path / "home" / ".docker" / "config.json"
    result = sdk.login(
        username="AWS",
        password=berth.password(),
        hostname=berth.host,
        config_path=str(docker_config),
    )
    assert result == {"Status": "Login Succeeded"}
    assert berth.host in json.loads(docker_config.read_text())["auths"]
    yield sdk
    sdk.session.close()


@pytest.fixture
def http(berth: BerthProcess) -> Iterator[httpx.Client]:
    with berth.client(timeout=30) as session:
        yield session


def write_files(directory: Path) -> dict[str, bytes]:
    directory.mkdir()
    files = {
        "readme.txt": b"berth e2e artifact\n" * 3,
        "data.json": json.dumps({"answer": 42, "items": list(range(20))}).encode(),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return files


def push_app(
    client: oras.client.OrasClient, berth: BerthProcess, tmp_path: Path
) -> tuple[str, dict[str, bytes]]:
    """Push a two-file artifact with a custom config media type; returns (digest, files)."""
    files = write_files(tmp_path / "app")
    config = tmp_path / "config.json"
    config.write_bytes(b'{"name":"berth-e2e"}')
    response = client.push(
        target=f"{berth.host}/e2e/artifact:v1",
        files=[
            str(tmp_path / "app" / "readme.txt"),
            f"{tmp_path / 'app' / 'data.json'}:{APP_DATA}",
        ],
        manifest_config=f"{config}:{APP_CONFIG}",
        manifest_annotations={"org.opencontainers.image.description": "app"},
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert "OCI-Subject" not in response.headers
    return response.headers["Docker-Content-Digest"], files


def subject_of(http: httpx.Client, name: str, digest: str) -> oras.oci.Subject:
    response = http.get(f"/v2/{name}/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text
    assert sha256(response.content) == digest
    return oras.oci.Subject(
        mediaType=response.headers["Content-Type"], digest=digest, size=len(response.content)
    )


def test_push_and_pull_artifact(
    client: oras.client.OrasClient, berth: BerthProcess, http: httpx.Client, tmp_path: Path
) -> None:
    digest, files = push_app(client, berth, tmp_path)

    manifest = client.get_manifest(f"{berth.host}/e2e/artifact:v1")
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == APP_CONFIG
    assert [(layer["mediaType"], layer["annotations"][TITLE]) for layer in manifest["layers"]] == [
        ("application/vnd.oci.image.layer.v1.tar", "readme.txt"),
        (APP_DATA, "data.json"),
    ]
    assert client.get_tags(f"{berth.host}/e2e/artifact") == ["v1"]
    raw = http.get("/v2/e2e/artifact/manifests/v1")
    assert raw.headers["Docker-Content-Digest"] == digest
    assert sha256(raw.content) == digest

    targets = {"by-tag": "e2e/artifact:v1", "by-digest": f"e2e/artifact@{digest}"}
    for label, target in targets.items():
        outdir = tmp_path / label
        pulled = client.pull(target=f"{berth.host}/{target}", outdir=str(outdir))
        assert sorted(Path(p).name for p in pulled) == sorted(files)
        for name, content in files.items():
            assert (outdir / name).read_bytes() == content


def test_referrers(
    client: oras.client.OrasClient, berth: BerthProcess, http: httpx.Client, tmp_path: Path
) -> None:
    app_digest, _ = push_app(client, berth, tmp_path)
    subject = subject_of(http, "e2e/artifact", app_digest)

    # An SBOM through the SDK: its artifact type is its config's media type.
    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(b'{"packages":[]}')
    sbom_config = tmp_path / "sbom-config.json"
    sbom_config.write_bytes(b"{}")
    response = client.push(
        target=f"{berth.host}/e2e/artifact:sbom",
        files=[f"{sbom}:application/spdx+json"],
        manifest_config=f"{sbom_config}:{SBOM_CONFIG}",
        manifest_annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert response.headers["OCI-Subject"] == app_digest
    sbom_digest = response.headers["Docker-Content-Digest"]
    sbom_manifest = http.get(f"/v2/e2e/artifact/manifests/{sbom_digest}").content

    # A signature built by hand, with an explicit artifactType and the empty config.
    payload = b"signature-payload"
    for blob in (b"{}", payload):
        upload = http.post(
            "/v2/e2e/artifact/blobs/uploads/", params={"digest": sha256(blob)}, content=blob
        )
        assert upload.status_code == 201, upload.text
    signature = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
            "layers": [
                {"mediaType": "application/octet-stream", "digest": sha256(payload), "size": 17}
            ],
            "subject": {"mediaType": subject.mediaType, "digest": app_digest, "size": subject.size},
            "annotations": {"org.example.signer": "e2e"},
        }
    ).encode()
    signature_digest = sha256(signature)
    put = http.put(
        f"/v2/e2e/artifact/manifests/{signature_digest}",
        content=signature,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert put.status_code == 201, put.text
    assert put.headers["OCI-Subject"] == app_digest
    assert put.headers["Docker-Content-Digest"] == signature_digest

    listing = http.get(f"/v2/e2e/artifact/referrers/{app_digest}")
    assert listing.status_code == 200, listing.text
    assert listing.headers["Content-Type"].startswith(OCI_INDEX)
    assert "OCI-Filters-Applied" not in listing.headers
    index = listing.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert by_digest == {
        sbom_digest: {
            "mediaType": OCI_MANIFEST,
            "digest": sbom_digest,
            "size": len(sbom_manifest),
            "artifactType": SBOM_CONFIG,
            "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        },
        signature_digest: {
            "mediaType": OCI_MANIFEST,
            "digest": signature_digest,
            "size": len(signature),
            "artifactType": SIGNATURE,
            "annotations": {"org.example.signer": "e2e"},
        },
    }

    filtered = http.get(
        f"/v2/e2e/artifact/referrers/{app_digest}", params={"artifactType": SIGNATURE}
    )
    assert filtered.status_code == 200, filtered.text
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [signature_digest]

    nothing = http.get(
        f"/v2/e2e/artifact/referrers/{app_digest}", params={"artifactType": "application/none"}
    )
    assert nothing.status_code == 200, nothing.text
    assert nothing.headers["OCI-Filters-Applied"] == "artifactType"
    assert nothing.json()["manifests"] == []

    # Nothing refers to the SBOM: an empty index, not an error.
    empty = http.get(f"/v2/e2e/artifact/referrers/{sbom_digest}")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_referrer_pushed_before_its_subject(
    client: oras.client.OrasClient, berth: BerthProcess, http: httpx.Client, tmp_path: Path
) -> None:
    """The subject need not exist yet (distribution-spec: pushing manifests with subject)."""
    absent = sha256(b"a manifest nobody pushed")
    note = tmp_path / "note.txt"
    note.write_bytes(b"early")
    response = client.push(
        target=f"{berth.host}/e2e/early:note",
        files=[str(note)],
        manifest_config=f"{note}:{SBOM_CONFIG}",
        subject=oras.oci.Subject(mediaType=OCI_MANIFEST, digest=absent, size=123),
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert response.headers["OCI-Subject"] == absent

    listing = http.get(f"/v2/e2e/early/referrers/{absent}")
    assert listing.status_code == 200, listing.text
    assert [d["digest"] for d in listing.json()["manifests"]] == [
        response.headers["Docker-Content-Digest"]
    ]


def test_chunked_push(
    client: oras.client.OrasClient, berth: BerthProcess, http: httpx.Client, tmp_path: Path
) -> None:
    """The SDK's chunked upload: POST, a PATCH per chunk with Content-Range, then PUT."""
    content = random.Random(5).randbytes(200_000)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(content)
    response = client.push(
        target=f"{berth.host}/e2e/chunked:v1",
        files=[str(blob)],
        do_chunked=True,
        chunk_size=64 * 1024,
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text

    stored = http.get(f"/v2/e2e/chunked/blobs/{sha256(content)}")
    assert stored.status_code == 200, stored.text
    assert stored.content == content
    pulled = client.pull(target=f"{berth.host}/e2e/chunked:v1", outdir=str(tmp_path / "out"))
    assert [Path(p).read_bytes() for p in pulled] == [content]
