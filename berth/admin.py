"""The admin commands' work and output: `berth lifecycle run`, `berth gc`, `berth vulndb`,
`berth sbom`.

They open the same stores as `berth serve` and rely on the same row locks, so they are safe to
run while it serves.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from typing import TextIO

from berth.app import Installation, open_installation
from berth.config import Settings
from berth.domain.scope import Scope
from berth.errors import BerthError
from berth.scan.errors import OsvError, ScanError
from berth.services.audit import AuditTrail
from berth.services.auth import AuthService
from berth.services.gc import GcReport
from berth.storage.crypto import load_master_key
from berth.storage.metadata.audit import SqlAuditStore
from berth.storage.metadata.outbox import SqlOutboxStore
from berth.storage.ports import ImportCounts, Repository


class _Progress:
    """A one-line progress display on a terminal; silent when output goes elsewhere."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()

    def show(self, text: str) -> None:
        if self._live:
            self._out.write(f"\r\x1b[K{text}")
            self._out.flush()

    def clear(self) -> None:
        if self._live:
            self._out.write("\r\x1b[K")
            self._out.flush()


async def lifecycle_run(
    installation: Installation,
    *,
    repository: str | None,
    dry_run: bool,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    progress = _Progress(out)

    def report(repo: Repository, done: int, total: int) -> None:
        progress.show(f"{repo.name}: expiring {done}/{total} images")

    trail = AuditTrail(SqlAuditStore(installation.metadata))
    installation.registry.lifecycle.audit = trail.add
    try:
        results = await installation.registry.lifecycle.run(
            repository=repository, dry_run=dry_run, progress=report
        )
        await trail.flush()
    finally:
        progress.clear()
        await installation.metadata.close()
    verb = "would expire" if dry_run else "expired"
    total = 0
    for result in results:
        for image in result.expired:
            tags = ",".join(image.tags) or "<untagged>"
            extra = f" (with {len(image.dependents)} dependents)" if image.dependents else ""
            print(f"{verb} {result.repository.name}@{image.digest} {tags}{extra}", file=out)
        print(
            f"{result.repository.name}: {len(result.expired)} of {result.judged} images {verb}",
            file=out,
        )
        total += len(result.expired)
    if repository is not None and not results:
        print(f"berth: no lifecycle policy on repository {repository}", file=sys.stderr)
        return 1
    print(f"{len(results)} policies applied, {total} images {verb}", file=out)
    return 0


async def gc(installation: Installation, *, dry_run: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    progress = _Progress(out)

    def report(done: GcReport) -> None:
        progress.show(f"deleted {done.blobs} blobs, {_size(done.bytes)}")

    try:
        result = await installation.collector.collect(dry_run=dry_run, progress=report)
    finally:
        progress.clear()
        await installation.metadata.close()
    if dry_run:
        print(
            f"would delete {result.uploads} expired uploads, {result.referrers} orphaned "
            f"referrers, {result.links} unused blob links and {result.blobs} blobs, "
            f"reclaiming at least {_size(result.bytes)} ({result.bytes} bytes)",
            file=out,
        )
    else:
        print(
            f"deleted {result.uploads} expired uploads, {result.referrers} orphaned referrers, "
            f"{result.links} unused blob links and {result.blobs} blobs, "
            f"reclaimed {_size(result.bytes)} ({result.bytes} bytes)",
            file=out,
        )
    return 0


async def create_account(
    settings: Settings, account_id: str | None, *, out: TextIO | None = None
) -> int:
    """A new account with a root access key, shown once (as on first start)."""
    out = out or sys.stdout
    account_id = account_id or f"{secrets.randbelow(10**12):012d}"
    if not re.fullmatch(r"[0-9]{12}", account_id):
        print(f"berth: an account id is 12 digits, not {account_id!r}", file=sys.stderr)
        return 2
    installation = open_installation(settings)
    try:
        auth = AuthService(
            installation.metadata, load_master_key(settings.secret_key, settings.data_dir)
        )
        pair = await auth.ensure_root_key(account_id)
    finally:
        await installation.metadata.close()
    if pair is None:
        print(f"berth: account {account_id} exists already", file=sys.stderr)
        return 1
    print(
        f"Created account {account_id} and its root access key:\n"
        f"  AWS_ACCESS_KEY_ID={pair[0]}\n"
        f"  AWS_SECRET_ACCESS_KEY={pair[1]}",
        file=out,
    )
    return 0


async def events_status(installation: Installation, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    outbox = SqlOutboxStore(installation.metadata)
    try:
        targets = await outbox.targets()
        letters = {t.name: await outbox.dead_letters(t.name, 20) for t in targets if t.dead_letters}
    finally:
        await installation.metadata.close()
    if not targets:
        print("no event targets have run yet", file=out)
        return 0
    print(
        f"{'target':<28} {'cursor':>8} {'pending':>8} {'delivered':>10} {'failed':>7} "
        f"{'dead':>5}  retry",
        file=out,
    )
    for t in targets:
        retry = ""
        if t.attempts:
            when = t.next_attempt_at.isoformat(timespec="seconds") if t.next_attempt_at else "?"
            retry = f"attempt {t.attempts} failed, next at {when}: {t.last_error}"
        print(
            f"{t.name:<28} {t.cursor:>8} {t.pending:>8} {t.delivered:>10} {t.failed:>7} "
            f"{t.dead_letters:>5}  {retry}",
            file=out,
        )
    for name, dead in letters.items():
        print(f"\ndead letters of {name} (first {len(dead)}):", file=out)
        for seq, failed_at, body in dead:
            print(f"  #{seq} at {failed_at.isoformat(timespec='seconds')}: {body[:200]}", file=out)
    return 0


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{value:.1f} TiB"


async def vulndb_import(
    installation: Installation, paths: list[str], *, out: TextIO | None = None
) -> int:
    """`berth vulndb import PATH…`: upsert OSV records (files, folders, zip exports)."""
    out = out or sys.stdout
    progress = _Progress(out)

    def report(read: int, counts: ImportCounts, invalid: int) -> None:
        progress.show(
            f"{read} records read: {counts.new} new, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {invalid} invalid"
        )

    started = time.monotonic()
    try:
        counts, invalid = await installation.scanning.import_advisories(paths, report)
    except OsvError as exc:
        progress.clear()
        print(f"berth: {exc.message}", file=sys.stderr)
        return 1
    finally:
        progress.clear()
        await installation.metadata.close()
    print(
        f"imported {counts.new} new and {counts.updated} updated records "
        f"({counts.unchanged} unchanged, {invalid} invalid) "
        f"in {time.monotonic() - started:.1f} s",
        file=out,
    )
    return 0


async def vulndb_status(installation: Installation, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        status = await installation.scanning.database_status()
    finally:
        await installation.metadata.close()
    last = status.last_import.isoformat() if status.last_import else "never"
    print(f"{status.records} vulnerability records, last updated {last}", file=out)
    for ecosystem, count in status.by_ecosystem.items():
        print(f"  {ecosystem}: {count}", file=out)
    return 0


async def sbom(
    installation: Installation,
    settings: Settings,
    image: str,
    *,
    push: bool,
    out: TextIO | None = None,
) -> int:
    """`berth sbom REPOSITORY:TAG|REPOSITORY@DIGEST [--push]`: CycloneDX JSON on stdout."""
    out = out or sys.stdout
    name, reference = _image_reference(image)
    scope = Scope(settings.account_id, settings.region)
    registry = installation.registry
    try:
        if push:
            _, pushed, document = await installation.scanning.push_sbom(
                scope, name, reference, registry.images, registry.uploads
            )
            print(f"pushed {name}@{pushed}", file=sys.stderr)
        else:
            _, document = await installation.scanning.sbom(scope, name, reference)
    except (BerthError, ScanError) as exc:
        print(f"berth: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await installation.metadata.close()
    print(json.dumps(document, indent=2), file=out)
    return 0


def _image_reference(image: str) -> tuple[str, str]:
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, digest
    name, sep, tag = image.rpartition(":")
    return (name, tag) if sep and "/" not in tag else (image, "latest")
