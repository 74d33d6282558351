"""Scale benchmark for lifecycle enforcement and garbage collection (run by hand, not a test).

    .venv/bin/python benchmarks/housekeeping.py [--images 100000] [--tags 300000]
        [--blobs 100000] [--database-url URL] [--scenarios lifecycle gc] [--json PATH] [--keep]

The fixtures are written straight into the tables with SQLAlchemy Core executemany (after the
Alembic migrations), and the blobs' bytes into the data folder, untimed. Every measured step then
runs in a fresh child process (`--step NAME`), through `open_installation` as `berth lifecycle
run` and `berth gc` do, so its memory is its own. Peak RSS is the child's VmHWM, reset (through
/proc/self/clear_refs) right before the step, after imports and the first connection; "+RSS" is
that peak minus the RSS at that moment. Not ru_maxrss: Linux carries the parent's high-water mark
into a child's ru_maxrss across fork + exec, so a child of this (large) parent would report the
parent's size; ru_maxrss stays in the JSON for reference. "loop stall" is the longest the event
loop went without running a task during the step: in the server, enforcement, previews and
collection share the loop with every request. Timings are reported, never asserted;
the garbage collection's result is checked (every referenced blob still there, row and file,
every collected one gone, the report's counts as the fixture implies) and a failed check makes
the exit status 1.

Default database: SQLite in a temp folder. With `--database-url postgresql+psycopg://...` the
run gets a private schema (`options=-csearch_path=...`), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import berth
from berth.app import Installation, open_installation
from berth.config import Settings
from berth.domain.scope import Scope
from berth.storage.blobs.filesystem import FilesystemBlobStore
from berth.storage.metadata import migrate
from berth.storage.metadata.schema import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
)
from berth.storage.metadata.schema import metadata as berth_tables
from berth.storage.metadata.urls import sync_url

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, REGION = "000000000000", "us-east-1"
SCOPE = Scope(ACCOUNT, REGION)
LIFECYCLE_REPO, GC_REPO, MIRROR_REPO = "bench/lifecycle", "bench/gc", "bench/gc-mirror"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
# Seconds. "Old" rows are 10 days old, "recent" ones are written by the fixture: the grace must
# outlast the whole run (or gc-run-again would rightly collect the recent ones).
GC_GRACE = 6 * 3600.0
CHUNK = 10_000  # rows per executemany
LOOP_TICK = 0.01  # seconds; the event-loop stall watcher's sleep
POLL = 0.05  # seconds between GetLifecyclePolicyPreview polls
PREVIEW_PAGE = 100  # GetLifecyclePolicyPreview's default and ECR's maximum maxResults
MB = 1024 * 1024
RESULT = "RESULT "

POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the last 1000 releases",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["release"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1000,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "dev builds live 90 days",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["dev-*"],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 90,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": "untagged images live 30 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 30,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 4,
                "description": "at most 20000 images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 20000,
                },
                "action": {"type": "expire"},
            },
        ]
    },
    indent=2,
)

SCENARIO_STEPS = {
    "lifecycle": (
        "lifecycle-preview",
        "lifecycle-preview-pages",
        "lifecycle-dry-run",
        "lifecycle-run",
        "lifecycle-run-again",
    ),
    "gc": ("gc-dry-run", "gc-run", "gc-run-again"),
}


# --- the measured steps (each in its own child process) -------------------------------------


async def _preview(inst: Installation) -> dict[str, Any]:
    """StartLifecyclePolicyPreview, then GetLifecyclePolicyPreview until it is no longer
    IN_PROGRESS (the preview runs as a task of this event loop, as in the server)."""
    lifecycle = inst.registry.lifecycle
    await lifecycle.start_lifecycle_policy_preview(SCOPE, LIFECYCLE_REPO, None)
    polls = 0
    while True:
        polls += 1
        preview = await lifecycle.get_lifecycle_policy_preview(
            SCOPE, LIFECYCLE_REPO, digests=None, tag_status="ANY", next_token=None, limit=1
        )
        if preview.record.status != "IN_PROGRESS":
            break
        await asyncio.sleep(POLL)
    return {
        "status": preview.record.status,
        "expiring": preview.record.expiring_count,
        "polls": polls,
    }


async def _preview_pages(inst: Installation) -> dict[str, Any]:
    """Every page of the finished preview, as `aws ecr get-lifecycle-policy-preview` reads it."""
    lifecycle = inst.registry.lifecycle
    token, pages, results = None, 0, 0
    while True:
        preview = await lifecycle.get_lifecycle_policy_preview(
            SCOPE,
            LIFECYCLE_REPO,
            digests=None,
            tag_status="ANY",
            next_token=token,
            limit=PREVIEW_PAGE,
        )
        pages += 1
        results += len(preview.results)
        token = preview.next_token
        if token is None:
            return {"pages": pages, "results": results}


async def _lifecycle_run(inst: Installation, dry_run: bool) -> dict[str, Any]:
    runs = await inst.registry.lifecycle.run(dry_run=dry_run)
    return {
        "repositories": len(runs),
        "judged": sum(r.judged for r in runs),
        "expired": sum(len(r.expired) for r in runs),
    }


async def _gc(inst: Installation, dry_run: bool) -> dict[str, Any]:
    return asdict(await inst.collector.collect(dry_run=dry_run))


STEPS: dict[str, Callable[[Installation], Awaitable[dict[str, Any]]]] = {
    "lifecycle-preview": _preview,
    "lifecycle-preview-pages": _preview_pages,
    "lifecycle-dry-run": lambda inst: _lifecycle_run(inst, True),
    "lifecycle-run": lambda inst: _lifecycle_run(inst, False),
    "lifecycle-run-again": lambda inst: _lifecycle_run(inst, False),
    "gc-dry-run": lambda inst: _gc(inst, True),
    "gc-run": lambda inst: _gc(inst, False),
    "gc-run-again": lambda inst: _gc(inst, False),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _status_mb(key: str) -> float | None:
    """VmRSS / VmHWM of this process's address space, from /proc (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0). ru_maxrss cannot be reset, and a child
    inherits the parent's high-water mark in it across fork + exec, hence VmHWM."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _status_mb("VmHWM") is not None


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        gc_grace=GC_GRACE,
        lifecycle_interval=0,
        gc_interval=0,
    )


async def _watch_loop(stall: list[float]) -> None:
    """The longest time the event loop could not run a task: in the server these jobs share
    the loop with every request (SQLite reads run inline on it, PostgreSQL's in threads)."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(LOOP_TICK)
        stall[0] = max(stall[0], time.perf_counter() - started - LOOP_TICK)


async def run_step(step: str, url: str, data_dir: Path) -> dict[str, Any]:
    inst = open_installation(settings_for(url, data_dir))
    try:
        if not await inst.metadata.ping():
            raise RuntimeError(f"database {url} is not reachable")
        gc.collect()
        hwm = _reset_peak()
        baseline = _status_mb("VmRSS") if hwm else _maxrss_mb()
        stall = [0.0]
        watcher = asyncio.create_task(_watch_loop(stall))
        await asyncio.sleep(0)
        started = time.perf_counter()
        result = await STEPS[step](inst)
        seconds = time.perf_counter() - started
        peak = _status_mb("VmHWM") if hwm else _maxrss_mb()
        # Let the watcher wake once more: a step that never yields (SQLite reads run inline)
        # shows up only on this last tick.
        await asyncio.sleep(3 * LOOP_TICK)
        watcher.cancel()
    finally:
        await inst.metadata.close()
    assert baseline is not None and peak is not None
    return {
        "seconds": seconds,
        "rss_baseline_mb": baseline,
        "rss_peak_mb": peak,
        "rss_delta_mb": peak - baseline,
        "rss_source": "VmHWM" if hwm else "ru_maxrss",
        "loop_stall_max_s": stall[0],
        "ru_maxrss_mb": _maxrss_mb(),
        "result": result,
    }


def child(step: str, url: str, data_dir: Path) -> dict[str, Any]:
    """Run one step in a fresh interpreter; its stderr (Berth's warnings) passes through."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step]
    command += ["--database-url", url, "--data-dir", str(data_dir)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"step {step} failed (exit status {done.returncode})")
    return dict(json.loads(lines[-1][len(RESULT) :]))


# --- fixtures ---------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(table), rows[start : start + CHUNK])


def _repository(conn: sa.Connection, name: str, now: datetime) -> int:
    conn.execute(
        sa.insert(repositories).values(
            account_id=ACCOUNT, region=REGION, name=name, created_at=now - timedelta(days=500)
        )
    )
    return int(
        conn.execute(
            sa.select(repositories.c.id).where(
                repositories.c.account_id == ACCOUNT,
                repositories.c.region == REGION,
                repositories.c.name == name,
            )
        ).scalar_one()
    )


def _first_manifest_id(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(manifests.c.id), 0))).scalar())


def _advance_sequence(conn: sa.Connection) -> None:
    """Ids were given explicitly; PostgreSQL's serial must move past them."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('manifests', 'id'), "
                "(SELECT max(id) FROM manifests))"
            )
        )


def _manifest_content(
    config: tuple[str, int], layers: list[tuple[str, int]], **extra: Any
) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    document.update(extra)
    return json.dumps(document, separators=(",", ":")).encode()


class BlobWriter:
    """Real bytes at `FilesystemBlobStore.blob_path`, so every digest is true."""

    def __init__(self, store: FilesystemBlobStore, rng: random.Random) -> None:
        self.store = store
        self.rng = rng

    def new(self, label: str) -> tuple[str, int]:
        data = f"berth housekeeping benchmark {label}\n".encode()
        data += self.rng.randbytes(self.rng.randint(32, 1024))
        digest = _digest(data)
        path = self.store.blob_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return digest, len(data)


@dataclass
class GcFixture:
    keep: list[str] = field(default_factory=list)  # blobs that must survive, with their bytes
    collect: list[str] = field(default_factory=list)  # blobs the collection must delete
    expected: dict[str, int] = field(default_factory=dict)  # the GcReport counts expected


def setup_lifecycle(
    engine: sa.Engine, writer: BlobWriter, images: int, tag_count: int, rng: random.Random
) -> tuple[dict[str, Any], list[str]]:
    """One repository with `images` manifests pushed over the last 400 days (ids in push order)
    and `tag_count` tags; every fifth image untagged. Each image references 3 of 256 shared
    blobs (config and two layers), linked in the repository: enforcement's drop_manifest
    touches those links, as it would in a real repository."""
    now = datetime.now(UTC)
    pool = [writer.new(f"lifecycle pool {i}") for i in range(256)]
    old = now - timedelta(days=500)
    with engine.begin() as conn:
        repository_id = _repository(conn, LIFECYCLE_REPO, now)
        _insert(conn, blobs, [{"digest": d, "size": s, "created_at": old} for d, s in pool])
        _insert(
            conn,
            repository_blobs,
            [{"repository_id": repository_id, "digest": d, "created_at": old} for d, _ in pool],
        )
        first = _first_manifest_id(conn) + 1
        pushed = sorted(
            now - timedelta(seconds=rng.uniform(60, 400 * 86_400)) for _ in range(images)
        )
        manifest_rows, reference_rows, digests = [], [], []
        for i, at in enumerate(pushed):
            config = pool[i % 256]
            layers = list(dict.fromkeys([pool[(7 * i + 1) % 256], pool[(13 * i + 2) % 256]]))
            content = _manifest_content(
                config, layers, annotations={"org.opencontainers.image.revision": f"{i:08x}"}
            )
            digest = _digest(content)
            digests.append(digest)
            manifest_rows.append(
                {
                    "id": first + i,
                    "repository_id": repository_id,
                    "digest": digest,
                    "media_type": OCI_MANIFEST,
                    "size": len(content),
                    "image_size": sum(s for _, s in layers),
                    "config_media_type": OCI_CONFIG,
                    "content": content,
                    "pushed_at": at,
                }
            )
            reference_rows += [
                {"manifest_id": first + i, "kind": "blob", "digest": d}
                for d in dict.fromkeys([config[0], *(d for d, _ in layers)])
            ]
        tag_rows = _lifecycle_tags(repository_id, first, digests, pushed, tag_count, rng)
        _insert(conn, manifests, manifest_rows)
        _insert(conn, manifest_references, reference_rows)
        _insert(conn, tags, tag_rows)
        _advance_sequence(conn)
    tagged = len({row["manifest_id"] for row in tag_rows})
    facts = {"images": images, "tags": len(tag_rows), "tagged_images": tagged}
    return facts, [d for d, _ in pool]


def _lifecycle_tags(
    repository_id: int,
    first: int,
    digests: list[str],
    pushed: list[datetime],
    count: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """A `sha-<hex>` tag per tagged image, then the rest: a quarter `release-NNNNN` (numbered
    in push order), three quarters `dev-<branch>-NNNNNN`."""
    tagged = [i for i in range(len(digests)) if i % 5]
    names: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i in tagged[:count]:
        name = f"sha-{digests[i][7:19]}"
        if name not in seen:
            seen.add(name)
            names.append((name, i))
    rest = count - len(names)
    if tagged and rest > 0:
        releases = rest // 4
        for k, i in enumerate(sorted(rng.choices(tagged, k=releases))):
            names.append((f"release-{k:05d}", i))
        branches = ("main", "feature-login", "fix-cache", "renovate", "perf")
        for k in range(rest - releases):
            names.append((f"dev-{branches[k % len(branches)]}-{k:06d}", rng.choice(tagged)))
    return [
        {
            "repository_id": repository_id,
            "name": name,
            "manifest_id": first + i,
            "updated_at": pushed[i],
        }
        for name, i in names
    ]


def setup_gc(engine: sa.Engine, writer: BlobWriter, count: int, keep_also: list[str]) -> GcFixture:
    """`count` blobs: the first half linked in bench/gc and referenced by its manifests (four
    blobs each plus one of 64 shared base layers; every tenth also linked, unreferenced, in
    bench/gc-mirror: that link goes, the blob stays); the second half garbage or nearly:
    - 45 % linked in bench/gc, unreferenced, the link 10 days old: link and blob collected;
    - 45 % linked nowhere: blob collected;
    - 10 % linked, unreferenced, the link just made: kept (grace period);
    - 0.2 % (at least 1) used only by an orphaned referrer (signature of a deleted image):
      the referrer is collected, its blob's link is touched and the blob kept until next time.
    """
    now = datetime.now(UTC)
    old = now - timedelta(days=10)
    fixture = GcFixture(keep=list(keep_also))
    made = [writer.new(f"gc {i}") for i in range(count)]
    size = dict(made)
    referenced = [d for d, _ in made[: count // 2]]
    garbage = [d for d, _ in made[count // 2 :]]
    orphans = max(1, len(garbage) // 500) if garbage else 0
    recent_n = len(garbage) // 10
    signed, garbage = garbage[:orphans], garbage[orphans:]
    recent, garbage = garbage[:recent_n], garbage[recent_n:]
    linked_old, unlinked = garbage[: len(garbage) // 2], garbage[len(garbage) // 2 :]
    mirrored = referenced[::10]
    with engine.begin() as conn:
        gc_id = _repository(conn, GC_REPO, now)
        mirror_id = _repository(conn, MIRROR_REPO, now)
        _insert(conn, blobs, [{"digest": d, "size": s, "created_at": old} for d, s in made])
        links = [(gc_id, d, old) for d in referenced + linked_old + signed]
        links += [(gc_id, d, now) for d in recent] + [(mirror_id, d, old) for d in mirrored]
        _insert(
            conn,
            repository_blobs,
            [{"repository_id": r, "digest": d, "created_at": at} for r, d, at in links],
        )
        first = _first_manifest_id(conn) + 1
        manifest_rows, reference_rows, tag_rows = [], [], []
        base = referenced[:64]
        groups = [referenced[i : i + 4] for i in range(0, len(referenced), 4)]
        for j, group in enumerate(groups):
            used = list(dict.fromkeys([*group, base[j % len(base)]]))
            layers = [(d, size[d]) for d in used[1:]]
            content = _manifest_content((used[0], size[used[0]]), layers)
            manifest_rows.append(
                _gc_manifest(first + j, gc_id, content, old, sum(s for _, s in layers))
            )
            reference_rows += [
                {"manifest_id": first + j, "kind": "blob", "digest": d} for d in used
            ]
            tag_rows.append(
                {
                    "repository_id": gc_id,
                    "name": f"build-{j:06d}",
                    "manifest_id": first + j,
                    "updated_at": old,
                }
            )
        for k, d in enumerate(signed):
            mid = first + len(groups) + k
            content = _manifest_content(
                (d, size[d]),
                [],
                artifactType=SIGNATURE,
                subject={"digest": _digest(b"gone %d" % k)},
            )
            row = _gc_manifest(mid, gc_id, content, old, 0)
            row.update(artifact_type=SIGNATURE, subject_digest=_digest(b"gone %d" % k))
            manifest_rows.append(row)
            reference_rows.append({"manifest_id": mid, "kind": "blob", "digest": d})
        _insert(conn, manifests, manifest_rows)
        _insert(conn, manifest_references, reference_rows)
        _insert(conn, tags, tag_rows)
        _advance_sequence(conn)
    fixture.keep += referenced + recent + signed
    fixture.collect = linked_old + unlinked
    fixture.expected = {
        "uploads": 0,
        "referrers": len(signed),
        "links": len(linked_old) + len(mirrored),
        "blobs": len(fixture.collect),
        "bytes": sum(size[d] for d in fixture.collect),
    }
    return fixture


def _gc_manifest(
    manifest_id: int, repository_id: int, content: bytes, at: datetime, image_size: int
) -> dict[str, Any]:
    return {
        "id": manifest_id,
        "repository_id": repository_id,
        "digest": _digest(content),
        "media_type": OCI_MANIFEST,
        "size": len(content),
        "image_size": image_size,
        "config_media_type": OCI_CONFIG,
        "content": content,
        "pushed_at": at,
        # Every row of an executemany needs the same keys: the first row's decide the columns.
        "artifact_type": None,
        "subject_digest": None,
    }


def verify_gc(
    engine: sa.Engine, store: FilesystemBlobStore, fixture: GcFixture, report: dict[str, Any]
) -> list[str]:
    """What went wrong, if anything: files and rows of kept and collected blobs, and the
    report's counts against what the fixture implies."""
    with engine.connect() as conn:
        rows = set(conn.execute(sa.select(blobs.c.digest)).scalars())
    problems = []
    lost = [d for d in fixture.keep if d not in rows or not store.blob_path(d).is_file()]
    left = [d for d in fixture.collect if d in rows or store.blob_path(d).exists()]
    if lost:
        problems.append(f"{len(lost)} blobs that must stay lost their row or file, e.g. {lost[0]}")
    if left:
        problems.append(f"{len(left)} garbage blobs still have a row or file, e.g. {left[0]}")
    for key, value in fixture.expected.items():
        if report.get(key) != value:
            problems.append(f"gc-run reported {key}={report.get(key)}, expected {value}")
    return problems


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Database:
    url: str
    kind: str
    cleanup: Callable[[], None] | None = None


def open_database(given: str | None, folder: Path) -> Database:
    if not given:
        return Database(f"sqlite:///{folder / 'berth.db'}", "sqlite")
    backend = sa.engine.make_url(given).get_backend_name()
    if backend != "postgresql":
        return Database(given, backend)
    # A private schema, as tests/conftest.py's database_url fixture makes one.
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sync_url(given), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in given else "?"
    return Database(f"{given}{separator}options=-csearch_path%3D{schema}", "postgresql", drop)


async def _put_policy(url: str, data_dir: Path) -> None:
    inst = open_installation(settings_for(url, data_dir))
    try:
        await inst.registry.lifecycle.put_lifecycle_policy(SCOPE, LIFECYCLE_REPO, POLICY)
    finally:
        await inst.metadata.close()


def _summary(step: str, result: dict[str, Any]) -> str:
    if step == "lifecycle-preview":
        return f"{result['status']}, {result['expiring']} expiring, {result['polls']} polls"
    if step == "lifecycle-preview-pages":
        return f"{result['pages']} pages of {PREVIEW_PAGE}, {result['results']} results"
    if step.startswith("lifecycle"):
        return f"{result['judged']} judged, {result['expired']} expired"
    return (
        f"{result['referrers']} referrers, {result['links']} links, {result['blobs']} blobs, "
        f"{result['bytes'] / MB:.1f} MiB{' (estimate)' if result['dry_run'] else ''}"
    )


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("step", "N", "seconds", "peak RSS MB", "+RSS MB", "loop stall s", "result")
    cells = [
        (
            r["step"],
            f"{r['n']:,}",
            f"{r['seconds']:.2f}",
            f"{r['rss_peak_mb']:.0f}",
            f"{r['rss_delta_mb']:.0f}",
            f"{r['loop_stall_max_s']:.2f}",
            _summary(r["step"], r["result"]),
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *cells]:
        print(
            "  ".join(
                c.ljust(w) if i in (0, 6) else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def analyze(engine: sa.Engine) -> float:
    """ANALYZE Berth's tables, as autovacuum does on a production server after the bulk load
    (many test servers run with autovacuum off; without statistics PostgreSQL's plans for the
    collection's anti-joins are far worse: see the README)."""
    started = time.perf_counter()
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        for table in berth_tables.sorted_tables:
            if table.name in present:
                conn.execute(sa.text(f'ANALYZE "{table.name}"'))
        conn.commit()
    return round(time.perf_counter() - started, 2)


def count_images(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(manifests)
                .join(repositories, repositories.c.id == manifests.c.repository_id)
                .where(repositories.c.name == name)
            ).scalar_one()
        )


def run_scenarios(
    args: argparse.Namespace,
    database: Database,
    engine: sa.Engine,
    data_dir: Path,
    setup: dict[str, Any],
    rows: list[dict[str, Any]],
) -> list[str]:
    """Fixtures then measured steps, scenario by scenario; the problems found."""
    problems: list[str] = []
    started = time.perf_counter()
    migrate.upgrade(database.url)
    setup["migrate_seconds"] = round(time.perf_counter() - started, 2)
    store = FilesystemBlobStore(data_dir)
    writer = BlobWriter(store, random.Random(args.seed))
    rng = random.Random(args.seed + 1)
    pool: list[str] = []
    fixture: GcFixture | None = None
    for scenario in args.scenarios:
        started = time.perf_counter()
        if scenario == "lifecycle":
            facts, pool = setup_lifecycle(engine, writer, args.images, args.tags, rng)
            asyncio.run(_put_policy(database.url, data_dir))
            n = args.images
        else:
            fixture = setup_gc(engine, writer, args.blobs, pool)
            facts = {"blobs": args.blobs, "expected": fixture.expected}
            n = args.blobs
        facts["seconds"] = round(time.perf_counter() - started, 2)
        if database.kind == "postgresql" and args.analyze:
            facts["analyze_seconds"] = analyze(engine)
        setup[scenario] = facts
        print(f"{scenario}: fixtures {json.dumps(facts)}", flush=True)
        for step in SCENARIO_STEPS[scenario]:
            try:
                measured = child(step, database.url, data_dir)
            except RuntimeError as exc:
                # The scenario's later steps depend on this one: go on with the next scenario.
                problems.append(str(exc))
                print(f"  {exc}", flush=True)
                break
            row = {"scenario": scenario, "step": step, "n": n, **measured}
            rows.append(row)
            print(
                f"  {step}: {row['seconds']:.2f} s, peak RSS {row['rss_peak_mb']:.0f} MB "
                f"(+{row['rss_delta_mb']:.0f}), loop stall {row['loop_stall_max_s']:.2f} s, "
                + _summary(step, row["result"]),
                flush=True,
            )
            result = row["result"]
            if step == "lifecycle-run":
                left, expected = count_images(engine, LIFECYCLE_REPO), n - result["expired"]
                found = [] if left == expected else [f"{left} images left, expected {expected}"]
                problems += found
                print(f"  lifecycle check: {'; '.join(found) or 'ok'} ({left:,} left)", flush=True)
            if step == "gc-run-again" and (result["links"] or result["blobs"]):
                problems.append(f"gc-run-again collected {result}; expected nothing")
            if step == "gc-run" and fixture is not None:
                found = verify_gc(engine, store, fixture, result)
                problems += found
                checked = len(fixture.keep) + len(fixture.collect)
                verdict = "FAILED: " + "; ".join(found) if found else "ok"
                print(f"  gc check ({checked:,} blobs, rows and files): {verdict}", flush=True)
    return problems


def _berth_revision() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def main_run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="berth-housekeeping-"))
    data_dir = folder / "data"
    data_dir.mkdir(mode=0o700)
    database = open_database(args.database_url, data_dir)
    engine = sa.create_engine(sync_url(database.url))
    rows: list[dict[str, Any]] = []
    setup: dict[str, Any] = {}
    print(f"database: {database.kind}; data folder: {data_dir}", flush=True)
    try:
        problems = run_scenarios(args, database, engine, data_dir, setup, rows)
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept {folder} and the database {database.url}")
        else:
            if database.cleanup:
                database.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(f"{database.kind}: {args.images:,} images, {args.tags:,} tags, {args.blobs:,} blobs")
    print_table(rows)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": database.kind,
        "berth": {"revision": _berth_revision(), "path": str(Path(berth.__file__).parent)},
        "parameters": {
            "images": args.images,
            "tags": args.tags,
            "blobs": args.blobs,
            "scenarios": args.scenarios,
            "seed": args.seed,
            "gc_grace_seconds": GC_GRACE,
            "analyze": args.analyze and database.kind == "postgresql",
            "preview_page": PREVIEW_PAGE,
            "policy": json.loads(POLICY),
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "sqlalchemy": sa.__version__,
        },
        "setup": setup,
        "steps": rows,
        "checks": {"ok": not problems, "problems": problems},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=100_000, help="lifecycle: images")
    parser.add_argument("--tags", type=int, default=300_000, help="lifecycle: tags")
    parser.add_argument("--blobs", type=int, default=100_000, help="gc: blobs")
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default: SQLite in a temp folder); PostgreSQL gets a schema",
    )
    parser.add_argument(
        "--scenarios", nargs="+", choices=tuple(SCENARIO_STEPS), default=list(SCENARIO_STEPS)
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "housekeeping.json"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="PostgreSQL: do not ANALYZE after loading the fixtures (as with autovacuum off)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp data folder")
    # Internal: one measured step, in a child process.
    parser.add_argument("--step", choices=tuple(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        if not (args.database_url and args.data_dir):
            parser.error("--step needs --database-url and --data-dir")
        measured = asyncio.run(run_step(args.step, args.database_url, args.data_dir))
        print(RESULT + json.dumps(measured), flush=True)
        return 0
    return main_run(args)


if __name__ == "__main__":
    sys.exit(main())
