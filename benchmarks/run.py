"""Berth vs CNCF Distribution 2.8.2, side by side on 127.0.0.1.

    python benchmarks/run.py [--quick] [--scenarios a,b] [--rounds N] [--berth-workers 1,2]

Every Berth worker count is a side of its own, next to Distribution. Rounds alternate the order of
all sides per scenario (1w 2w D, D 2w 1w, …) so machine noise hits each; the table shows
per-metric medians with min-max over rounds, the ratio of each Berth side to Distribution and the
performance issue's targets, judged on the 2-worker side. Every server and temp dir started here is
removed on exit.
"""

from __future__ import annotations

import argparse
import json
import operator
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
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import FrameType

import loadgen
import servers
from scenarios import SCENARIOS, Config, Context, Side, higher_is_better
from servers import Server

DIST = "distribution"
PEAK_RSS = "peak RSS MB (whole run)"
Results = dict[str, dict[str, dict[str, list[float]]]]  # scenario → side → metric → per round

# The performance issue's targets for Berth (ECR token auth, embedded store, TARGET_WORKERS worker
# processes) against Distribution 2.8.2 without auth in the same run, on medians over rounds:
# (scenario, metric) → (kind, comparison, value). "ratio" compares Berth/Distribution, "absolute"
# compares Berth's own number.
TARGETS: dict[tuple[str, str], tuple[str, str, float]] = {
    ("manifest-get", "c=64 req/s"): ("absolute", ">=", 8000.0),
    ("manifest-get", "c=64 p99 ms"): ("absolute", "<=", 20.0),
    ("blob-head", "c=64 req/s"): ("ratio", ">=", 8.0),
    ("auth-cost", "slowdown from auth %"): ("absolute", "<=", 20.0),
    ("push-small-images", "images/s"): ("ratio", ">=", 4.0),
    ("push-large", "MB/s"): ("ratio", ">=", 1.8),
    ("push-chunked", "MB/s"): ("ratio", ">=", 2.0),
    ("pull-large", "1 streams MB/s"): ("ratio", ">=", 0.9),
    ("pull-large", "4 streams MB/s"): ("ratio", ">=", 1.1),
    ("tags-list", "all pages ms"): ("absolute", "<=", 20.0),
    ("memory", PEAK_RSS): ("absolute", "<=", 150.0),
}
TARGET_WORKERS = 2  # judged on this Berth side, or on the largest worker count run without it
COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass
class Verdict:
    """One target judged on this run's medians (kept in the JSON as is)."""

    scenario: str
    metric: str
    side: str
    kind: str
    comparison: str
    target: float
    observed: float  # Berth/Distribution for "ratio", Berth's median for "absolute"
    met: bool


def berth_side(workers: int) -> str:
    return f"berth-{workers}w"


def title(side: str) -> str:
    """Column title: "Berth 2w", "Distribution"."""
    return "Distribution" if side == DIST else "Berth " + side.removeprefix("berth-")


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
        "--berth-workers",
        type=worker_counts,
        default=(1, 2),
        help="comma-separated Berth worker process counts, one side each (default 1,2)",
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


def worker_counts(text: str) -> tuple[int, ...]:
    """Parse "1,2" into (1, 2): sorted, without repeats, each between 1 and 32."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not counts or not all(1 <= n <= 32 for n in counts):
        raise argparse.ArgumentTypeError("worker counts must be between 1 and 32")
    return tuple(counts)


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


def ratio(b: list[float], d: list[float]) -> float | None:
    """Ratio of medians, or None when either side has no number (or Distribution's is 0)."""
    if not b or not d or not statistics.median(d):
        return None
    return statistics.median(b) / statistics.median(d)


def target_side(workers: tuple[int, ...]) -> str:
    """The Berth side the issue's targets speak of: 2 workers, else the most that ran."""
    return berth_side(TARGET_WORKERS if TARGET_WORKERS in workers else max(workers))


def evaluate(results: Results, side: str) -> dict[tuple[str, str], Verdict]:
    """The TARGETS whose numbers this run has, judged for `side`."""
    verdicts = {}
    for (scenario, metric), (kind, comparison, want) in TARGETS.items():
        b = results.get(scenario, {}).get(side, {}).get(metric, [])
        d = results.get(scenario, {}).get(DIST, {}).get(metric, [])
        observed = ratio(b, d) if kind == "ratio" else statistics.median(b) if b else None
        if observed is None:
            continue
        met = COMPARE[comparison](observed, want)
        verdicts[scenario, metric] = Verdict(
            scenario, metric, side, kind, comparison, want, observed, met
        )
    return verdicts


def table(results: Results, sides: list[str], verdicts: dict[tuple[str, str], Verdict]) -> str:
    berths = [s for s in sides if s != DIST]
    rows = [
        (
            "scenario",
            "metric",
            *map(title, sides),
            *(f"{s.removeprefix('berth-')}/D" for s in berths),
            "better",
            "target",
            "met",
        )
    ]
    for scenario, per_side in results.items():
        metrics = list(dict.fromkeys(m for side in per_side.values() for m in side))
        for metric in metrics:
            if metric.startswith("_"):
                continue
            values = [per_side.get(s, {}).get(metric, []) for s in sides]
            direction = higher_is_better(metric)
            ratios = []
            for b in berths:
                r = ratio(
                    per_side.get(b, {}).get(metric, []), per_side.get(DIST, {}).get(metric, [])
                )
                ratios.append("-" if direction is None or r is None else f"{r:.2f}x")
            better = {True: "higher", False: "lower", None: "info"}[direction]
            target = met = "-"
            if (scenario, metric) in TARGETS:
                kind, comparison, want = TARGETS[scenario, metric]
                target = f"{comparison} {want:g}" + ("x" if kind == "ratio" else "")
                verdict = verdicts.get((scenario, metric))
                met = "-" if verdict is None else "yes" if verdict.met else "no"
            rows.append((scenario, metric, *map(fmt, values), *ratios, better, target, met))
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

    names = [berth_side(n) for n in config.berth_workers] + [DIST]
    results: Results = {s: {n: {} for n in names} for s in chosen}
    failures: list[str] = []
    started = time.time()
    with ExitStack() as stack:
        base = Path(tempfile.mkdtemp(prefix="berth-bench-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        tools = loadgen.build_tools(base)
        sides: dict[str, Side] = {}
        for n in config.berth_workers:
            name = berth_side(n)
            berth = servers.start_berth(base, name, workers=n)
            stack.callback(berth.stop)
            start_fresh = partial(servers.start_berth, workers=n)
            sides[name] = Side(name, berth, True, berth, berth, start_fresh)
        dist = servers.start_distribution(base)
        stack.callback(dist.stop)
        dist_auth = dist
        if "auth-cost" in chosen:
            dist_auth = servers.start_distribution(base, "distribution-htpasswd", htpasswd=True)
            stack.callback(dist_auth.stop)
        sides[DIST] = Side(DIST, dist, False, dist_auth, dist, servers.start_distribution)
        print(
            f"Berth with {', '.join(map(str, config.berth_workers))} worker process(es), one side "
            f"each (ECR token auth over Basic, embedded store) vs "
            f"{servers.distribution_version()} (no auth; htpasswd for auth-cost); "
            f"{rounds} rounds; {config.seconds:g} s per load",
            flush=True,
        )
        ctx = Context(config, base, tools)
        peak = stack.enter_context(PeakRss([side.main for side in sides.values()]))
        done_rounds = 0
        for rnd in range(rounds):
            if time.monotonic() > deadline:
                print(f"time budget of {args.max_minutes:g} min used up after {rnd} rounds")
                break
            ctx.round = rnd
            order = names if rnd % 2 == 0 else names[::-1]
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
            name: {PEAK_RSS: [peak.peak.get(side.main.label, 0) / 1e6]}
            for name, side in sides.items()
        }

    judged = target_side(config.berth_workers)
    verdicts = evaluate(results, judged)
    print()
    print(table(results, names, verdicts))
    print(
        "\n'Nw/D': ratio of medians, Berth with N worker processes / Distribution; 'better' says "
        f"which direction wins; 'target' and 'met' are judged on {title(judged)}."
    )
    met = sum(v.met for v in verdicts.values())
    missing = len(TARGETS) - len(verdicts)
    print(
        f"targets met: {met} of {len(verdicts)} evaluated ({title(judged)})"
        + (f"; {missing} not measured in this run" if missing else "")
    )
    report = {
        "started": started,
        "duration_s": time.time() - started,
        "rounds": done_rounds,
        "config": config.__dict__,
        "machine": {"cpus": os.cpu_count(), "python": sys.version, "node": platform.node()},
        "distribution": servers.distribution_version(),
        "results": results,
        "targets": {
            "side": judged,
            "met": met,
            "evaluated": len(verdicts),
            "verdicts": [asdict(v) for v in verdicts.values()],
            "not_measured": [f"{s} {m}" for s, m in TARGETS if (s, m) not in verdicts],
        },
        "failures": failures,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"raw numbers: {args.json}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
