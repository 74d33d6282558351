"""Berth vs CNCF Distribution 2.8.2, side by side on 127.0.0.1.

    python benchmarks/run.py [--quick] [--scenarios a,b] [--rounds N] [--json out.json]

Rounds alternate the order of the two registries per scenario (A B, B A, A B, …) so machine noise
hits both; the table shows per-metric medians with min-max over rounds and the ratio
Berth/Distribution. Every server and temp dir started here is removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import FrameType

import loadgen
import servers
from scenarios import SCENARIOS, Config, Context, Side, higher_is_better
from servers import Server

NAMES = ("berth", "distribution")


class PeakRss:
    """Samples the RSS of each server's process tree every 100 ms and keeps the peak."""

    def __init__(self, watched: list[Server]) -> None:
        self.watched = watched
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for server in self.watched:
                rss = server.rss_bytes()
                self.peak[server.label] = max(self.peak.get(server.label, 0), rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short smoke run (small data, 1 s loads)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument("--rounds", type=int, help="rounds per scenario (default 3, quick 2)")
    p.add_argument("--seconds", type=float, help="seconds per load measurement (default 5)")
    p.add_argument(
        "--json", type=Path, default=Path(__file__).with_name("results.json"), help="raw results"
    )
    p.add_argument(
        "--berth-workers", type=int, default=1, help="Berth worker processes (default 1)"
    )
    p.add_argument(
        "--max-minutes", type=float, default=20.0, help="stop starting rounds after this"
    )
    args = p.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    if not 1 <= (args.rounds or 1) <= 50:
        p.error("--rounds must be between 1 and 50")
    return args


def make_config(args: argparse.Namespace) -> Config:
    config = Config.quick() if args.quick else Config()
    changes: dict[str, object] = {"berth_workers": args.berth_workers}
    if args.seconds:
        changes["seconds"] = max(1.0, min(args.seconds, 120.0))
    return Config(**{**config.__dict__, **changes})


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    spec = ".0f" if abs(med) >= 100 else ".1f" if abs(med) >= 10 else ".2f"
    if len(values) == 1 or min(values) == max(values):
        return f"{med:{spec}}"
    return f"{med:{spec}} [{min(values):{spec}}-{max(values):{spec}}]"


def table(results: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    rows = [("scenario", "metric", "Berth", "Distribution", "B/D", "better")]
    for scenario, per_side in results.items():
        metrics = list(dict.fromkeys(m for side in per_side.values() for m in side))
        for metric in metrics:
            if metric.startswith("_"):
                continue
            b = per_side.get("berth", {}).get(metric, [])
            d = per_side.get("distribution", {}).get(metric, [])
            direction = higher_is_better(metric)
            ratio = "-"
            if direction is not None and b and d and statistics.median(d):
                ratio = f"{statistics.median(b) / statistics.median(d):.2f}x"
            better = {True: "higher", False: "lower", None: "info"}[direction]
            rows.append((scenario, metric, fmt(b), fmt(d), ratio, better))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = make_config(args)
    rounds = args.rounds or (2 if args.quick else 3)
    chosen = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    deadline = time.monotonic() + 60 * args.max_minutes
    signal.signal(signal.SIGTERM, _terminate)
    servers.ensure_tools()

    results: dict[str, dict[str, dict[str, list[float]]]] = {
        s: {n: {} for n in NAMES} for s in chosen
    }
    failures: list[str] = []
    started = time.time()
    with ExitStack() as stack:
        base = Path(tempfile.mkdtemp(prefix="berth-bench-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        headload = loadgen.build_headload(base)
        start_berth = partial(servers.start_berth, workers=config.berth_workers)
        berth = start_berth(base)
        stack.callback(berth.stop)
        dist = servers.start_distribution(base)
        stack.callback(dist.stop)
        dist_auth = dist
        if "auth-cost" in chosen:
            dist_auth = servers.start_distribution(base, "distribution-htpasswd", htpasswd=True)
            stack.callback(dist_auth.stop)
        sides = {
            "berth": Side("berth", berth, True, berth, berth, start_berth),
            "distribution": Side(
                "distribution", dist, False, dist_auth, dist, servers.start_distribution
            ),
        }
        print(
            f"Berth {config.berth_workers} worker (ECR token auth over Basic) vs "
            f"{servers.distribution_version()} (no auth; htpasswd for auth-cost); "
            f"{rounds} rounds; {config.seconds:g} s per load",
            flush=True,
        )
        ctx = Context(config, base, headload)
        peak = stack.enter_context(PeakRss([berth, dist]))
        done_rounds = 0
        for rnd in range(rounds):
            if time.monotonic() > deadline:
                print(f"time budget of {args.max_minutes:g} min used up after {rnd} rounds")
                break
            ctx.round = rnd
            order = NAMES if rnd % 2 == 0 else NAMES[::-1]
            for scenario in chosen:
                for name in order:
                    t0 = time.monotonic()
                    try:
                        metrics = SCENARIOS[scenario](ctx, sides[name])
                    except Exception as exc:
                        failures.append(f"round {rnd} {scenario} {name}: {exc!r}")
                        traceback.print_exc()
                        continue
                    for metric, value in metrics.items():
                        results[scenario][name].setdefault(metric, []).append(value)
                    took = time.monotonic() - t0
                    print(
                        f"round {rnd + 1}/{rounds} {scenario:18} {name:12} {took:5.1f} s",
                        flush=True,
                    )
            done_rounds += 1
        results["memory"] = {
            "berth": {"peak RSS MB (whole run)": [peak.peak.get(berth.label, 0) / 1e6]},
            "distribution": {"peak RSS MB (whole run)": [peak.peak.get(dist.label, 0) / 1e6]},
        }

    print()
    print(table(results))
    print(
        f"\nBerth/Distribution ratio of medians; 'better' says which direction wins. Berth ran "
        f"{config.berth_workers} worker process(es)."
    )
    report = {
        "started": started,
        "duration_s": time.time() - started,
        "rounds": done_rounds,
        "config": config.__dict__,
        "machine": {"cpus": os.cpu_count(), "python": sys.version, "node": platform.node()},
        "distribution": servers.distribution_version(),
        "results": results,
        "failures": failures,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"raw numbers: {args.json}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
