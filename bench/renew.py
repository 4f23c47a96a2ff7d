"""Benchmark: renew downtime against a bare restart of the same daemon (issue 15).

On one ``mtls`` lab, each round:

1. ``renew --force`` as a transaction (plan_renew + apply_plan); downtime = last moment the
   daemon answered /_ping over mTLS with the ``lab-admin`` bundle -> first moment it answers
   again (the renewed daemon, same bundle: the CA did not change);
2. a bare stop/start of the same dockerd on the same config, measured the same way.

Target: renew downtime <= bare restart + 0.3 s (as for apply). The pollers are bench.apply's
(every ~5 ms, the mTLS one inside the lab's namespace), so a figure is good to ~10 ms.

Run as root:  .venv/bin/python -m bench.renew [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.apply import Poller, downtime, mtls_probe, wait_steady
from dockwiz import lifecycle
from dockwiz.apply import apply_plan
from dockwiz.lab.lab import Lab, lab_down, lab_up
from dockwiz.models.results import ApplyResult


def one_round(lab: Lab) -> dict[str, float]:
    host = lab.host()
    services = host.services
    assert services is not None
    bundle = host.path("/etc/dockwiz/clients/lab-admin")
    figures: dict[str, float] = {}
    with Poller(mtls_probe(lab, bundle), lab.info.netns) as tls:
        plan = lifecycle.plan_renew(host, force=True)
        result: dict[str, ApplyResult] = {}
        figures["renew_downtime_s"] = downtime(
            tls, tls, lambda: result.setdefault("r", apply_plan(host, plan)))
        assert result["r"].ok, result["r"].model_dump_json(indent=2)
        figures["renew_reported_downtime_s"] = result["r"].downtime_s or 0.0
        wait_steady(tls)
        figures["bare_restart_s"] = downtime(tls, tls, services.restart)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="dwbench", dir="/tmp")) / "lab"
    lab = lab_up(directory, "mtls")
    rounds: list[dict[str, float]] = []
    try:
        for n in range(args.rounds):
            figures = one_round(lab)
            rounds.append(figures)
            print(f"round {n + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in figures.items()),
                  flush=True)
    finally:
        lab_down(directory)
        shutil.rmtree(directory.parent, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    extra = med["renew_downtime_s"] - med["bare_restart_s"]
    print(f"\nmedian of {len(rounds)} rounds:")
    print(f"  renew downtime         {med['renew_downtime_s']:.3f} s "
          f"(apply's own figure {med['renew_reported_downtime_s']:.3f} s)")
    print(f"  bare stop/start        {med['bare_restart_s']:.3f} s")
    print(f"  renew - bare           {extra:+.3f} s   (target <= +0.300 s: "
          f"{'PASS' if extra <= 0.3 else 'FAIL'})")
    return 0 if extra <= 0.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
