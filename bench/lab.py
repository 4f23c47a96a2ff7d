"""Benchmark: lab start to /_ping per Docker engine and scenario.

For each engine (20.10, 26.1, 28.5) and scenario (fd-socket, mtls, tls-no-verify), ``--runs``
labs are made one after another. Two figures per lab:

* **start to /_ping**: from spawning dockerd to its first answer on the unix socket (what the
  lab records as ``start_seconds``; the daemon's own start-up, deliberate sleeps included:
  tls-no-verify is TLS without client verification on a network address, which every engine
  delays by 1 s, DOMAIN §1);
* **lab up**: the whole ``lab_up`` call (namespace, sandbox root, certificates, start, wait).

Engines must be in the cache (``dockwiz lab engines --fetch``); fetching is not timed here.
insecure-tcp is left out on purpose: its ~16 s is dockerd's deliberate sleep, measured once in
tests/e2e/test_engines_e2e.py.

Run as root:  .venv/bin/python -m bench.lab [--runs 3] [--engines 20.10,28.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dockwiz.lab.engines import ENGINES, ensure_engine
from dockwiz.lab.lab import lab_down, lab_up

SCENARIOS = ("fd-socket", "mtls", "tls-no-verify")


def measure(engine: str, scenario: str, runs: int, base: Path) -> dict[str, object]:
    starts: list[float] = []
    ups: list[float] = []
    for i in range(runs):
        directory = base / f"{engine}-{scenario}-{i}"
        began = time.monotonic()
        lab = lab_up(directory, scenario, docker=engine)
        up = time.monotonic() - began
        try:
            if lab.info.state != "running" or lab.info.start_seconds is None:
                raise SystemExit(f"{engine} {scenario}: lab did not start: {lab.info.error}")
            starts.append(lab.info.start_seconds)
            ups.append(up)
        finally:
            lab_down(directory)
            shutil.rmtree(directory, ignore_errors=True)
    return {"engine": engine, "scenario": scenario, "runs": runs,
            "start_to_ping_s": _summary(starts), "lab_up_s": _summary(ups)}


def _summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    for engine in engines:
        ensure_engine(engine, progress=lambda msg: print(msg, file=sys.stderr))
    rows = []
    with tempfile.TemporaryDirectory(prefix="dwbench-lab-") as tmp:
        for engine in engines:
            for scenario in [s for s in args.scenarios.split(",") if s]:
                rows.append(measure(engine, scenario, args.runs, Path(tmp)))
                if not args.json:
                    _print_row(rows[-1])
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def _print_row(row: dict[str, object]) -> None:
    start = row["start_to_ping_s"]
    up = row["lab_up_s"]
    assert isinstance(start, dict) and isinstance(up, dict)
    print(f"{row['engine']:<6} {row['scenario']:<14} "
          f"start to /_ping median {start['median']:.2f} s "
          f"({start['min']:.2f}-{start['max']:.2f});  lab up median {up['median']:.2f} s "
          f"({up['min']:.2f}-{up['max']:.2f});  runs {row['runs']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
