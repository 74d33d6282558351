"""skopeo (containers/image) against a real `berth serve`: OCI images, multi-arch indexes and
Docker schema2 manifests go up and come back byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REGION, ROOT_KEY_ID, ROOT_SECRET
from tests.e2e.conftest import BerthProcess, require_tool
from tests.e2e.images import (
    OCI_INDEX,
    OCI_MANIFEST,
    build_image_layout,
    build_index_layout,
    read_blob,
    top_descriptor,
    verify_blobs,
)

pytestmark = pytest.mark.e2e

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

find_skopeo = require_tool("skopeo")


@dataclass
class Skopeo:
    """skopeo with its own HOME, policy, registries.conf, registries.d and auth file (where
    `skopeo login` keeps credentials): nothing from the machine's containers configuration or
    credentials leaks in."""

    binary: str
    root: Path
    berth: BerthProcess

    @property
    def auth_file(self) -> Path:
        return self.root / "auth.json"

    def ref(self, repository: str, reference: str = "") -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        suffix = f"{separator}{reference}" if reference else ""
        return f"docker://{self.berth.host}/{repository}{suffix}"

    def run(
        self, *args: str, check: bool = True, stdin: bytes | int | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """skopeo with `args`; `stdin` is bytes to feed it or a file descriptor to read."""
        command = [
            self.binary,
            "--policy",
            str(self.root / "policy.json"),
            "--registries-conf",  # hidden in skopeo 1.9's help, but honoured
            str(self.root / "registries.conf"),
            "--registries.d",
            str(self.root / "registries.d"),
            "--tmpdir",
            str(self.root / "tmp"),
            *args,
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "XDG_CONFIG_HOME": str(self.root / "home" / ".config"),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
        }
        feed = {"input": stdin} if isinstance(stdin, bytes) else {"stdin": stdin}
        result = subprocess.run(command, capture_output=True, env=env, timeout=120, **feed)
        if check and result.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} exited {result.returncode}\n"
                f"stderr:\n{result.stderr.decode(errors='replace')}\n"
                f"berth log:\n{self.berth.log()[-4000:]}"
            )
        return result

    def login(self, password: bytes | int) -> None:
        """`aws ecr get-login-password | skopeo login --username AWS --password-stdin <host>`;
        `password` is the password or the read end of a pipe carrying it."""
        result = self.run(
            "login",
            "--tls-verify=false",
            "--username",
            "AWS",
            "--password-stdin",
            self.berth.host,
            stdin=password,
        )
        assert result.stdout == b"Login Succeeded!\n"
        assert list(json.loads(self.auth_file.read_text())["auths"]) == [self.berth.host]

    # Without explicit credentials, skopeo uses what `skopeo login` stored in the auth file.

    def push(self, source: str, repository: str, tag: str, *flags: str) -> None:
        self.run(
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            *flags,
            source,
            self.ref(repository, tag),
        )

    def pull(self, repository: str, reference: str, destination: str, *flags: str) -> None:
        self.run(
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            *flags,
            self.ref(repository, reference),
            destination,
        )

    def inspect_raw(self, repository: str, reference: str, *flags: str) -> bytes:
        result = self.run(
            "inspect", "--raw", "--tls-verify=false", *flags, self.ref(repository, reference)
        )
        return result.stdout


@pytest.fixture
def berth(berth_process: BerthProcess) -> BerthProcess:
    berth_process.start()
    return berth_process


@pytest.fixture
def logged_out(tmp_path: Path, berth: BerthProcess) -> Skopeo:
    """skopeo that has not logged in to Berth."""
    binary = find_skopeo()
    root = tmp_path / "skopeo"
    for directory in ("home", "run", "tmp", "registries.d"):
        (root / directory).mkdir(parents=True)
    (root / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    (root / "registries.conf").write_text("unqualified-search-registries = []\n")
    return Skopeo(binary, root, berth)


@pytest.fixture
def skopeo(logged_out: Skopeo) -> Skopeo:
    """skopeo logged in with a password from GetAuthorizationToken."""
    logged_out.login(logged_out.berth.password().encode())
    return logged_out


def manifest_head(berth: BerthProcess, repository: str, reference: str) -> httpx.Response:
    with berth.client(timeout=30) as client:
        response = client.head(f"/v2/{repository}/manifests/{reference}")
    assert response.status_code == 200, response.text
    return response


def assert_unauthorized(result: subprocess.CompletedProcess[bytes]) -> None:
    assert result.returncode != 0
    assert b"unauthorized: authentication required" in result.stderr, result.stderr


def test_oci_image_round_trip_preserves_every_digest(tmp_path: Path, skopeo: Skopeo) -> None:
    source = tmp_path / "source"
    digest = build_image_layout(source, layers=3, arch="amd64")
    manifest = read_blob(source, digest)
    assert len(json.loads(manifest)["layers"]) == 3

    skopeo.push(f"oci:{source}:latest", "e2e/app", "v1", "--preserve-digests")

    assert skopeo.inspect_raw("e2e/app", "v1") == manifest
    assert skopeo.inspect_raw("e2e/app", digest) == manifest
    head = manifest_head(skopeo.berth, "e2e/app", "v1")
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Type"] == OCI_MANIFEST

    copy = tmp_path / "copy"
    skopeo.pull("e2e/app", "v1", f"oci:{copy}:latest", "--preserve-digests")

    pulled = top_descriptor(copy)
    assert pulled["digest"] == digest
    assert pulled["mediaType"] == OCI_MANIFEST
    assert pulled["size"] == len(manifest)
    # Same set of blobs (config, three layers, manifest), each hashing to its name.
    assert verify_blobs(copy) == verify_blobs(source)


def test_multi_arch_index_round_trip(tmp_path: Path, skopeo: Skopeo) -> None:
    source = tmp_path / "source"
    index_digest = build_index_layout(source, arches=("amd64", "arm64"))
    index_bytes = read_blob(source, index_digest)
    children = json.loads(index_bytes)["manifests"]
    assert [c["platform"]["architecture"] for c in children] == ["amd64", "arm64"]

    skopeo.push(f"oci:{source}:latest", "e2e/multi", "v1", "--all", "--preserve-digests")

    assert skopeo.inspect_raw("e2e/multi", "v1") == index_bytes
    head = manifest_head(skopeo.berth, "e2e/multi", "v1")
    assert head.headers["Docker-Content-Digest"] == index_digest
    assert head.headers["Content-Type"] == OCI_INDEX
    for child in children:
        assert skopeo.inspect_raw("e2e/multi", child["digest"]) == read_blob(
            source, child["digest"]
        )

    # skopeo resolves the index to the requested platform's image.
    child_manifest = json.loads(read_blob(source, children[1]["digest"]))
    result = skopeo.run(
        "--override-arch",
        "arm64",
        "--override-os",
        "linux",
        "inspect",
        "--tls-verify=false",
        skopeo.ref("e2e/multi", "v1"),
    )
    inspected = json.loads(result.stdout)
    assert inspected["Architecture"] == "arm64"
    assert inspected["Layers"] == [layer["digest"] for layer in child_manifest["layers"]]

    copy = tmp_path / "copy"
    skopeo.pull("e2e/multi", "v1", f"oci:{copy}:latest", "--all", "--preserve-digests")

    pulled = top_descriptor(copy)
    assert pulled["digest"] == index_digest
    assert pulled["mediaType"] == OCI_INDEX
    # The index, both platform manifests, and each one's config and layers.
    assert verify_blobs(copy) == verify_blobs(source)


def test_docker_schema2_push_and_pull_to_dir(tmp_path: Path, skopeo: Skopeo) -> None:
    source = tmp_path / "source"
    oci_digest = build_image_layout(source, layers=3, seed=7)
    oci_manifest = json.loads(read_blob(source, oci_digest))

    skopeo.push(f"oci:{source}:latest", "e2e/app", "v2s2", "--format", "v2s2")

    target = tmp_path / "dir"
    skopeo.pull("e2e/app", "v2s2", f"dir:{target}", "--preserve-digests")

    raw = (target / "manifest.json").read_bytes()
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == DOCKER_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [DOCKER_LAYER] * 3
    # Converted manifest, same blobs: no layer was recompressed, the config is unchanged.
    assert [layer["digest"] for layer in manifest["layers"]] == [
        layer["digest"] for layer in oci_manifest["layers"]
    ]
    assert manifest["config"]["digest"] == oci_manifest["config"]["digest"]

    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digest != oci_digest
    assert skopeo.inspect_raw("e2e/app", "v2s2") == raw
    inspected = json.loads(
        skopeo.run("inspect", "--tls-verify=false", skopeo.ref("e2e/app", "v2s2")).stdout
    )
    assert inspected["Digest"] == digest
    assert (
        skopeo.run("manifest-digest", str(target / "manifest.json")).stdout.decode().strip()
        == digest
    )
    head = manifest_head(skopeo.berth, "e2e/app", "v2s2")
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Type"] == DOCKER_MANIFEST

    blobs = [manifest["config"], *manifest["layers"]]
    for descriptor in blobs:
        data = (target / descriptor["digest"].removeprefix("sha256:")).read_bytes()
        assert len(data) == descriptor["size"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]


def test_list_tags(tmp_path: Path, skopeo: Skopeo) -> None:
    source = tmp_path / "source"
    build_image_layout(source, layers=1)
    for tag in ("v1", "v2", "latest"):
        skopeo.push(f"oci:{source}:latest", "e2e/app", tag, "--preserve-digests")

    result = skopeo.run("list-tags", "--tls-verify=false", skopeo.ref("e2e/app"))
    listing = json.loads(result.stdout)
    assert listing["Repository"] == f"{skopeo.berth.host}/e2e/app"
    assert sorted(listing["Tags"]) == ["latest", "v1", "v2"]


@pytest.mark.parametrize("by", ["digest", "tag"])
def test_delete(tmp_path: Path, skopeo: Skopeo, by: str) -> None:
    source = tmp_path / "source"
    digest = build_image_layout(source, layers=1)
    skopeo.push(f"oci:{source}:latest", "e2e/app", "doomed", "--preserve-digests")
    other = tmp_path / "other"
    build_image_layout(other, layers=1, seed=1)
    skopeo.push(f"oci:{other}:latest", "e2e/app", "kept", "--preserve-digests")

    reference = digest if by == "digest" else "doomed"
    skopeo.run("delete", "--tls-verify=false", skopeo.ref("e2e/app", reference))

    for gone in ("doomed", digest):
        result = skopeo.run(
            "inspect",
            "--raw",
            "--tls-verify=false",
            skopeo.ref("e2e/app", gone),
            check=False,
        )
        assert result.returncode != 0
        assert b"manifest unknown" in result.stderr
    with skopeo.berth.client(timeout=30) as client:
        response = client.get(f"/v2/e2e/app/manifests/{digest}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"

    listing = skopeo.run("list-tags", "--tls-verify=false", skopeo.ref("e2e/app"))
    assert json.loads(listing.stdout)["Tags"] == ["kept"]
    assert skopeo.inspect_raw("e2e/app", "kept") == read_blob(
        other, top_descriptor(other)["digest"]
    )


# logging in


def test_login_with_the_aws_cli_then_logout(tmp_path: Path, logged_out: Skopeo) -> None:
    """`aws ecr get-login-password | skopeo login --username AWS --password-stdin <host>`, with
    the real AWS CLI; `skopeo logout` forgets the credentials again."""
    skopeo = logged_out
    source = tmp_path / "source"
    digest = build_image_layout(source, layers=1)
    manifest = read_blob(source, digest)
    refused = skopeo.run(
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        f"oci:{source}:latest",
        skopeo.ref("e2e/login", "v1"),
        check=False,
    )
    assert_unauthorized(refused)

    aws = Path(sys.executable).with_name("aws")
    assert aws.exists(), "awscli is a test dependency"
    # The CLI's own credentials and endpoint only: no configuration of the machine's.
    aws_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "aws-home"),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-home" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-home" / "credentials"),
        "AWS_ACCESS_KEY_ID": ROOT_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": ROOT_SECRET,
    }
    command = [str(aws), "ecr", "get-login-password", "--region", REGION]
    command += ["--endpoint-url", skopeo.berth.url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=aws_env) as get_login_password:
        assert get_login_password.stdout is not None
        skopeo.login(get_login_password.stdout.fileno())
    assert get_login_password.returncode == 0

    skopeo.push(f"oci:{source}:latest", "e2e/login", "v1", "--preserve-digests")
    assert skopeo.inspect_raw("e2e/login", "v1") == manifest

    result = skopeo.run("logout", skopeo.berth.host)
    assert result.stdout == f"Removed login credentials for {skopeo.berth.host}\n".encode()
    assert json.loads(skopeo.auth_file.read_text())["auths"] == {}
    assert_unauthorized(
        skopeo.run(
            "inspect", "--raw", "--tls-verify=false", skopeo.ref("e2e/login", "v1"), check=False
        )
    )


def test_explicit_credentials_without_login(tmp_path: Path, logged_out: Skopeo) -> None:
    """--dest-creds, --src-creds and --creds instead of a stored login."""
    skopeo = logged_out
    creds = f"AWS:{skopeo.berth.password()}"
    source = tmp_path / "source"
    digest = build_image_layout(source, layers=2)
    manifest = read_blob(source, digest)

    skopeo.push(
        f"oci:{source}:latest", "e2e/creds", "v1", "--preserve-digests", "--dest-creds", creds
    )
    assert not skopeo.auth_file.exists()
    assert skopeo.inspect_raw("e2e/creds", "v1", "--creds", creds) == manifest
    assert_unauthorized(
        skopeo.run(
            "inspect", "--raw", "--tls-verify=false", skopeo.ref("e2e/creds", "v1"), check=False
        )
    )
    wrong = skopeo.run(
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "AWS:not-a-registry-password",
        skopeo.ref("e2e/creds", "v1"),
        check=False,
    )
    assert_unauthorized(wrong)

    copy = tmp_path / "copy"
    skopeo.pull("e2e/creds", "v1", f"oci:{copy}:latest", "--preserve-digests", "--src-creds", creds)
    assert top_descriptor(copy)["digest"] == digest
    assert verify_blobs(copy) == verify_blobs(source)
    tags = skopeo.run("list-tags", "--tls-verify=false", "--creds", creds, skopeo.ref("e2e/creds"))
    assert json.loads(tags.stdout)["Tags"] == ["v1"]
