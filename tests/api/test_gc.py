"""Online garbage collection against a serving registry: what goes, what stays, races with
pushes, and a collection cut off halfway."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from berth import cli
from berth.app import open_installation
from berth.config import Settings
from berth.services.gc import GarbageCollector
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.metadata.gc import SqlGarbageStore
from berth.storage.metadata.schema import blob_contents
from tests.api.helpers import OCI_MANIFEST, image_manifest, push_blob, push_image, sha256
from tests.api.lifecycle_helpers import age_everything
from tests.conftest import RunningRegistry

NAME = "gc/app"


def blob_file(settings: Settings, digest: str) -> Path:
    algorithm, encoded = digest.split(":", 1)
    return settings.data_dir / "blobs" / algorithm / encoded[:2] / encoded


def blob_stored(settings: Settings, digest: str) -> bool:
    """Whether the blob's bytes are anywhere: its file, or the database (a small blob)."""
    if blob_file(settings, digest).exists():
        return True
    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            query = sa.select(blob_contents.c.digest).where(blob_contents.c.digest == digest)
            return conn.execute(query).first() is not None
    finally:
        engine.dispose()


def big(seed: str) -> bytes:
    return seed.encode() * (70_000 // len(seed))


def run_gc(settings: Settings, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    code = cli.main(
        [
            "gc",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.sqlalchemy_url,
            *flags,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def pull_ok(client: httpx.Client, name: str, reference: str) -> bool:
    """Pull a manifest and every blob it names, verifying each digest."""
    response = client.get(f"/v2/{name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
    if response.status_code != 200:
        return False
    doc = response.json()
    for desc in [doc["config"], *doc["layers"]]:
        blob = client.get(f"/v2/{name}/blobs/{desc['digest']}")
        if blob.status_code != 200 or sha256(blob.content) != desc["digest"]:
            return False
    return True


def test_deleted_images_space_comes_back(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = registry.settings
    client = registry.client
    keep, _ = push_image(client, NAME, "keep", seed=b"keep")
    gone, gone_manifest = push_image(client, NAME, "gone", seed=b"gone")
    # The same layers in another repository stay there even when gone here.
    push_image(client, "gc/other", "copy", seed=b"gone")
    only_here, _ = push_image(client, NAME, "only", seed=b"only")
    registry.ecr.batch_delete_image(
        repositoryName=NAME, imageIds=[{"imageTag": "gone"}, {"imageTag": "only"}]
    )
    only_layers = [sha256(b"layer-one-only"), sha256(b"layer-two-only")]
    assert all(blob_stored(settings, d) for d in only_layers)

    # Within the grace period nothing goes.
    monkeypatch.setenv("BERTH_GC_GRACE", "3600")
    assert "deleted 0 expired uploads, 0 orphaned referrers, 0 unused blob links and 0 blobs" in (
        run_gc(settings, capsys)
    )
    age_everything(settings.sqlalchemy_url, hours=2)
    dry = run_gc(settings, capsys, "--dry-run")
    config_only = b'{"architecture":"amd64","os":"linux","seed":"only"}'
    reclaim = len(b"layer-one-only") + len(b"layer-two-only") + len(config_only)
    assert f"and 3 blobs, reclaiming at least {reclaim} B ({reclaim} bytes)" in dry
    assert all(blob_stored(settings, d) for d in only_layers)

    out = run_gc(settings, capsys)
    assert f"6 unused blob links and 3 blobs, reclaimed {reclaim} B ({reclaim} bytes)" in out
    assert not any(blob_stored(settings, d) for d in only_layers)
    assert pull_ok(client, NAME, keep)
    assert pull_ok(client, "gc/other", "copy")
    assert client.head(f"/v2/{NAME}/blobs/{only_layers[0]}").status_code == 404
    assert client.get(f"/v2/{NAME}/manifests/{only_here}").status_code == 404
    # The shared layers of the deleted image are no longer in this repository, but exist.
    shared = sha256(b"layer-one-gone")
    assert client.head(f"/v2/{NAME}/blobs/{shared}").status_code == 404
    assert blob_stored(settings, shared)
    assert gone_manifest and gone


def test_abandoned_uploads_expire(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = registry.settings
    started = registry.client.post(f"/v2/{NAME}/blobs/uploads/")
    assert started.status_code == 202
    location = started.headers["Location"]
    patched = registry.client.patch(
        location,
        content=b"half a layer",
        headers={"Content-Type": "application/octet-stream", "Content-Range": "0-11"},
    )
    assert patched.status_code == 202
    upload_id = location.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    # A file a crashed monolithic upload left behind, with no upload row.
    stray = settings.data_dir / "uploads" / str(uuid.uuid4())
    stray.write_bytes(b"partial")
    os.utime(stray, (1_000, 1_000))

    assert "deleted 0 expired uploads" in run_gc(settings, capsys)
    assert (settings.data_dir / "uploads" / upload_id).exists()
    assert not stray.exists()  # older than the upload TTL and unknown

    monkeypatch.setenv("BERTH_UPLOAD_TTL", "60")
    age_everything(settings.sqlalchemy_url, hours=2)
    assert "deleted 1 expired uploads" in run_gc(settings, capsys)
    assert not (settings.data_dir / "uploads" / upload_id).exists()
    assert registry.client.get(location).status_code == 404


def test_pushes_racing_collections_never_lose_a_blob(registry: RunningRegistry) -> None:
    """Pushers keep pushing new images that reuse layers of deleted images while collections
    with no grace period run back to back. A push may be refused (its layer went just before
    the manifest arrived: the client uploads again), but every accepted push must pull whole."""
    # A short grace: fresh uploads usually live to see their manifest, the layers of deleted
    # images become garbage almost at once.
    settings = registry.settings.model_copy(update={"gc_grace": 0.2})
    pool = [f"shared-layer-{i}".encode() * 50 for i in range(12)]
    accepted: list[tuple[str, str]] = []
    refused: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def pusher(worker: int) -> None:
        rng = random.Random(worker)
        try:
            with httpx.Client(
                base_url=registry.url, auth=("AWS", registry.password), timeout=60
            ) as client:
                for n in range(25):
                    name = f"race/app{worker % 2}"
                    layers = rng.sample(pool, 3)
                    config = f'{{"worker":{worker},"n":{n}}}'.encode()
                    for blob in (config, *layers):
                        # A client skips a layer the registry says it has, as real ones do.
                        if client.head(f"/v2/{name}/blobs/{sha256(blob)}").status_code != 200:
                            push_blob(client, name, blob)
                    manifest = image_manifest(config, layers)
                    tag = f"w{worker}-{n}"
                    put = client.put(
                        f"/v2/{name}/manifests/{tag}",
                        content=manifest,
                        headers={"Content-Type": OCI_MANIFEST},
                    )
                    if put.status_code == 201:
                        accepted.append((name, tag))
                    else:
                        assert put.status_code == 400, put.text
                        assert put.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
                        refused.append(tag)
                    # Delete every other image again, so its layers become garbage.
                    if n % 2 == 0 and put.status_code == 201:
                        assert client.delete(f"/v2/{name}/manifests/{tag}").status_code == 202
                        accepted.remove((name, tag))
        except BaseException as exc:
            errors.append(exc)

    def collector() -> None:
        async def loop() -> int:
            installation = open_installation(settings)
            runs = 0
            try:
                while not stop.is_set():
                    await installation.collector.collect()
                    runs += 1
            finally:
                await installation.metadata.close()
            return runs

        try:
            asyncio.run(loop())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    stop.set()
    gc_thread.join(300)
    assert not errors, errors
    assert len(accepted) + len(refused) >= 40
    # One more collection after the dust settles, then every accepted image pulls whole.
    installation = open_installation(settings)

    async def final() -> None:
        try:
            await installation.collector.collect()
        finally:
            await installation.metadata.close()

    asyncio.run(final())
    for name, tag in accepted:
        assert pull_ok(registry.client, name, tag), f"{name}:{tag} lost a blob"


def test_a_collection_cut_off_halfway_is_finished_by_the_next(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = registry.settings.model_copy(update={"gc_grace": 0.0})
    client = registry.client
    # Larger than the database keeps: files, which the failing store below fails to delete.
    garbage = [push_blob(client, NAME, big(f"garbage-{i}")) for i in range(30)]
    keep, _ = push_image(client, NAME, "keep", seed=b"keep")
    for digest in garbage:
        assert client.delete(f"/v2/{NAME}/blobs/{digest}").status_code == 202

    installation = open_installation(settings)
    deleted: list[str] = []

    class FailingBlobs(FilesystemBlobStore):
        def delete_blob(self, digest: str) -> None:
            if len(deleted) == 5:
                raise OSError("disk went away")
            super().delete_blob(digest)
            deleted.append(digest)

    collector = GarbageCollector(
        SqlGarbageStore(installation.metadata),
        installation.metadata,
        FailingBlobs(settings.data_dir),
        grace=timedelta(0),
        upload_ttl=timedelta(days=1),
    )

    async def cut_off() -> None:
        try:
            with pytest.raises(OSError, match="disk went away"):
                await collector.collect()
        finally:
            await installation.metadata.close()

    asyncio.run(cut_off())
    assert len(deleted) == 5
    assert not any(blob_file(settings, d).exists() for d in deleted)

    monkeypatch.setenv("BERTH_GC_GRACE", "0")
    out = run_gc(settings, capsys)
    assert "and 30 blobs" in out
    assert not any(blob_stored(settings, d) for d in garbage)
    assert pull_ok(client, NAME, keep)
    # Pushing a collected blob again works: its bytes are stored anew.
    again = push_blob(client, NAME, big("garbage-0"))
    assert blob_file(settings, again).read_bytes() == big("garbage-0")
    assert hashlib.sha256(big("garbage-0")).hexdigest() in again
