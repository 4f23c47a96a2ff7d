"""Benchmark: wall time of ``dockwiz inspect --json --lab D`` against ``docker version``.

Both talk to the same running lab daemon in the same run (``docker version`` through
DOCKER_HOST=unix://<lab socket>), in alternating order, several paired runs; the figure is
the median of the per-pair ratios, so machine load hits both sides of each pair alike.
Target: inspect within 10x of ``docker version``.

    .venv/bin/python -m bench.inspect [--runs 15] [--scenario fd-socket] [--json]

Needs root (the lab uses a network namespace and a real dockerd).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 10.0


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                         check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="paired runs (default 15)")
    parser.add_argument("--scenario", default="fd-socket", help="lab scenario (default fd-socket)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    from dockwiz.lab.lab import lab_down, lab_up

    docker = shutil.which("docker")
    if docker is None:
        raise SystemExit("the docker CLI is not on the PATH (apt-get install docker.io)")
    dockwiz = [sys.executable, "-m", "dockwiz"]
    base = Path(tempfile.mkdtemp(prefix="dw-bench-"))
    lab_dir = base / "lab"
    try:
        lab = lab_up(lab_dir, args.scenario, wait=40.0)
        if lab.info.state != "running":
            raise SystemExit(f"lab did not start: {lab.info.error}")
        inspect_cmd = [*dockwiz, "inspect", "--json", "--lab", str(lab_dir)]
        # As installed (pip/pipx compile bytecode): cache .pyc files, in our temp dir so the
        # source tree stays clean, even where PYTHONDONTWRITEBYTECODE is set.
        py_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        py_env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        docker_cmd = [docker, "version"]
        docker_env = {**os.environ, **lab.docker_env()}
        docker_env.pop("DOCKER_CERT_PATH", None)  # unix socket: no TLS material needed
        timed(inspect_cmd, py_env)  # warm caches on both sides once, not counted
        timed(docker_cmd, docker_env)
        inspect_s: list[float] = []
        docker_s: list[float] = []
        for i in range(args.runs):
            if i % 2 == 0:
                inspect_s.append(timed(inspect_cmd, py_env))
                docker_s.append(timed(docker_cmd, docker_env))
            else:
                docker_s.append(timed(docker_cmd, docker_env))
                inspect_s.append(timed(inspect_cmd, py_env))
        ratios = [a / b for a, b in zip(inspect_s, docker_s, strict=True)]
        result = {
            "scenario": args.scenario,
            "runs": args.runs,
            "inspect_median_s": round(statistics.median(inspect_s), 4),
            "docker_version_median_s": round(statistics.median(docker_s), 4),
            "median_ratio": round(statistics.median(ratios), 2),
            "target_ratio": TARGET_RATIO,
            "inspect_cmd": " ".join(inspect_cmd),
            "docker_cmd": f"DOCKER_HOST={docker_env['DOCKER_HOST']} {' '.join(docker_cmd)}",
        }
    finally:
        lab_down(lab_dir)
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"dockwiz inspect --json : median {result['inspect_median_s']:.3f} s")
        print(f"docker version         : median {result['docker_version_median_s']:.3f} s")
        print(f"median ratio (paired)  : {result['median_ratio']:.2f}x "
              f"(target <= {TARGET_RATIO:.0f}x) over {args.runs} runs, scenario {args.scenario}")
    return 0 if result["median_ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
