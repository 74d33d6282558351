"""`berth` command line: serve, migrate, and the admin commands lifecycle and gc."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from berth import __version__, admin, memory, supervisor, workers
from berth.api.metrics import JsonAccessLogger
from berth.app import (
    IN_FLIGHT,
    ROOT_KEY,
    GeneratedRootKey,
    create_app,
    open_installation,
)
from berth.config import Settings, load_settings
from berth.storage.metadata import migrate

log = logging.getLogger("berth")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth", description=__doc__)
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    parser.add_argument("--config", type=Path, help="TOML config file (or BERTH_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the registry")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5000)")
    serve.add_argument("--data-dir", type=Path, help="data folder (default ./berth-data)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data folder)")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain for HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for HTTPS")
    serve.add_argument("--account-id", help="12-digit id of the account created on first start")
    serve.add_argument("--public-url", help="the registry URL clients use (default from host/port)")
    serve.add_argument("--workers", type=int, help="server processes sharing the port (default 1)")
    serve.add_argument(
        "--create-on-push",
        action="store_true",
        default=None,
        help="create a missing repository on its first push (ECR refuses such pushes)",
    )
    serve.add_argument(
        "--anonymous-pull",
        action="store_true",
        default=None,
        help="let pulls through without a registry login (development registries)",
    )

    mig = commands.add_parser("migrate", help="apply database migrations and exit")
    _store_flags(mig)

    lifecycle = commands.add_parser("lifecycle", help="lifecycle policies")
    lifecycle_commands = lifecycle.add_subparsers(dest="action", required=True)
    run = lifecycle_commands.add_parser(
        "run", help="apply every repository's lifecycle policy now (safe while Berth serves)"
    )
    _store_flags(run)
    run.add_argument("--repository", help="only this repository")
    run.add_argument(
        "--dry-run", action="store_true", help="show what would expire, change nothing"
    )

    account = commands.add_parser("account", help="accounts of this installation")
    account_commands = account.add_subparsers(dest="action", required=True)
    create = account_commands.add_parser(
        "create", help="create an account and print its root access key (once)"
    )
    _store_flags(create)
    create.add_argument("--account-id", help="12 digits (default: random)")

    events = commands.add_parser("events", help="event delivery")
    events_commands = events.add_subparsers(dest="action", required=True)
    status = events_commands.add_parser(
        "status", help="per target: cursor, pending, retries, dead letters"
    )
    _store_flags(status)

    gc = commands.add_parser(
        "gc", help="delete unreferenced blobs and expired uploads (safe while Berth serves)"
    )
    _store_flags(gc)
    gc.add_argument("--dry-run", action="store_true", help="show what would go, change nothing")

    vulndb = commands.add_parser(
        "vulndb", help="the OSV vulnerability database scans match against (offline)"
    )
    vulndb_commands = vulndb.add_subparsers(dest="action", required=True)
    vulndb_import = vulndb_commands.add_parser(
        "import",
        help="add or update OSV records from .json files, folders or OSV's zip exports "
        "(incremental; safe while Berth serves)",
    )
    _store_flags(vulndb_import)
    vulndb_import.add_argument("paths", nargs="+", metavar="PATH")
    vulndb_status = vulndb_commands.add_parser("status", help="what the database holds")
    _store_flags(vulndb_status)

    sbom = commands.add_parser("sbom", help="print an image's packages as a CycloneDX SBOM (JSON)")
    _store_flags(sbom)
    sbom.add_argument("image", metavar="REPOSITORY:TAG|REPOSITORY@DIGEST")
    sbom.add_argument("--account-id", help="the registry's account (default: account_id)")
    sbom.add_argument("--region", help="the registry's region (default: region)")
    sbom.add_argument(
        "--push",
        action="store_true",
        help="also store it in the repository as an OCI referrer artifact of the image",
    )
    return parser


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data folder (default ./berth-data)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data folder)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    local: tuple[str, ...] = ("command", "config", "action", "repository", "dry_run")
    local = (*local, "paths", "image", "push")  # vulndb and sbom
    if args.command == "account":
        local = (*local, "account_id")  # the account to create, not the server's own
    flags = {k: v for k, v in vars(args).items() if k not in local}
    try:
        if args.command == "serve":  # validated in a child: no server process holds pydantic
            settings = workers.settings_in_child(args.config, **flags)
        else:
            settings = load_settings(args.config, **flags)
    except (ValueError, OSError) as exc:  # includes pydantic's ValidationError and TOML errors
        print(f"berth: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except workers.StartFailed:
        return 1
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "migrate":
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        migrate.upgrade(settings.sqlalchemy_url)
        return 0
    if args.command == "account":
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        migrate.upgrade(settings.sqlalchemy_url)
        return asyncio.run(admin.create_account(settings, args.account_id))
    if args.command in ("vulndb", "sbom"):
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        migrate.upgrade(settings.sqlalchemy_url)
        installation = open_installation(settings)
        if args.command == "sbom":
            return asyncio.run(admin.sbom(installation, settings, args.image, push=args.push))
        if args.action == "import":
            return asyncio.run(admin.vulndb_import(installation, args.paths))
        return asyncio.run(admin.vulndb_status(installation))
    if args.command == "events":
        return asyncio.run(admin.events_status(open_installation(settings)))
    if args.command in ("lifecycle", "gc"):
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        migrate.upgrade(settings.sqlalchemy_url)
        installation = open_installation(settings)
        if args.command == "gc":
            return asyncio.run(admin.gc(installation, dry_run=args.dry_run))
        return asyncio.run(
            admin.lifecycle_run(installation, repository=args.repository, dry_run=args.dry_run)
        )
    try:
        tls = _tls_context(settings)
        # Migrations and the root key, in a child process that takes Alembic with it.
        keys = workers.prepare_in_child(settings)
        if settings.workers > 1:
            _show_root_keys(keys)
            return _serve_workers(settings, tls)
        app = create_app(settings, prepared=True)
    except (ValueError, OSError, ssl.SSLError) as exc:
        print(f"berth: cannot start: {exc}", file=sys.stderr)
        return 2
    except workers.StartFailed:
        return 1
    app[ROOT_KEY].extend(keys)  # shown once the server listens
    # What exists now lives as long as the server: frozen, full collections skip it.
    gc.collect()
    gc.freeze()
    memory.tune_malloc()
    asyncio.run(serve(app, settings, tls))
    return 0


def _serve_workers(settings: Settings, tls: ssl.SSLContext | None) -> int:
    """Fork `workers` processes that share the port through SO_REUSEPORT (`prepare` has run);
    signals are passed on to them, and the parent exits when they have all stopped."""

    def serve_one() -> None:  # a worker: nothing of an event loop or engine exists here yet
        asyncio.run(serve(create_app(settings, prepared=True), settings, tls, shared=True))

    return workers.run_workers(settings.workers, serve_one, logging.getLogger().level)


def _show_root_keys(keys: list[GeneratedRootKey]) -> None:
    for key in keys:
        # Shown once, on the terminal rather than in the log; the file keeps it afterwards.
        print(
            f"Created the root access key of account {key.account_id}:\n"
            f"  AWS_ACCESS_KEY_ID={key.access_key_id}\n"
            f"  AWS_SECRET_ACCESS_KEY={key.secret_access_key}\n"
            f"  (also in {key.path}, readable by its owner only)",
            flush=True,
        )


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if not (settings.tls_cert and settings.tls_key):
        return None
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        tls.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot load TLS certificate {settings.tls_cert} and key {settings.tls_key}: {exc}"
        ) from None
    return tls


async def serve(
    app: web.Application,
    settings: Settings,
    tls: ssl.SSLContext | None,
    *,
    shared: bool = False,
) -> None:
    access: dict[str, Any] = {"access_log": None}
    if settings.access_log:
        # Access lines are JSON documents on their own lines, for log shippers to parse; on
        # stderr with the other logs (stdout only ever shows a generated root key).
        access_log = logging.getLogger("berth.access")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False
        access = {"access_log": access_log, "access_log_class": JsonAccessLogger}
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout, **access)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, ssl_context=tls, backlog=1024, reuse_port=shared
    )
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in supervisor.STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    # A worker of `--workers N` starts with them blocked (see `berth.workers`).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, supervisor.STOP_SIGNALS)
    _show_root_keys(app[ROOT_KEY])
    log.info("Berth registry listening on %s", settings.registry_url)
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    await site.stop()
    if not await app[IN_FLIGHT].wait_idle(settings.shutdown_timeout):
        log.warning("requests still running after %ss are cut off", settings.shutdown_timeout)
    await runner.cleanup()
