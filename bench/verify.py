"""Benchmark: a full ``dockwiz verify`` of an mTLS lab, as a ratio to one ``docker version``.

Both talk to the same lab daemon over the same mTLS endpoint, inside the lab's network
namespace, in the same run; the pairs alternate which goes first, and the medians are compared.
The verify side is measured twice: as the whole ``dockwiz verify --lab D --json`` process
(Python start-up and imports included, like the docker CLI's own start-up) and as the
``verify_host()`` call alone.

    .venv/bin/python -m bench.verify [--pairs 7] [--json]

Needs root (the lab is a real dockerd in its own network namespace).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dockwiz.lab.lab import lab_down, lab_up
from dockwiz.verify import verify_host


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{argv[:4]}... failed ({out.returncode}): {out.stderr or out.stdout}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description="verify vs docker version over mTLS")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dockwiz-bench-verify-") as tmp:
        lab_dir = Path(tmp) / "lab"
        lab = lab_up(lab_dir, "mtls")
        try:
            bundle = Path(lab.info.client_cert_dir or "")
            endpoint = lab.info.tcp_endpoint or f"tcp://{lab.info.address}:2376"
            docker = [
                "nsenter", f"--net=/var/run/netns/{lab.info.netns}",
                "docker", "--tlsverify", "--tlscacert", str(bundle / "ca.pem"),
                "--tlscert", str(bundle / "cert.pem"), "--tlskey", str(bundle / "key.pem"),
                "-H", endpoint, "version",
            ]
            cli = [sys.executable, "-m", "dockwiz", "verify", "--lab", str(lab_dir), "--json"]
            host = lab.host()
            first = verify_host(host)  # warm caches; also proves the lab is secured
            if not first.passed:
                raise SystemExit(f"the lab does not verify: {first.summary}")
            probes = len(first.probes)
            docker_s: list[float] = []
            cli_s: list[float] = []
            call_s: list[float] = []
            for i in range(args.pairs):
                order = (0, 1, 2) if i % 2 == 0 else (2, 1, 0)
                for which in order:
                    if which == 0:
                        docker_s.append(_timed(docker))
                    elif which == 1:
                        cli_s.append(_timed(cli))
                    else:
                        started = time.perf_counter()
                        report = verify_host(host)
                        call_s.append(time.perf_counter() - started)
                        assert report.passed, report.summary
        finally:
            lab_down(lab_dir)

    d, c, v = (statistics.median(x) for x in (docker_s, cli_s, call_s))
    result = {
        "pairs": args.pairs,
        "probes": probes,
        "docker_version_median_s": round(d, 4),
        "dockwiz_verify_process_median_s": round(c, 4),
        "verify_host_call_median_s": round(v, 4),
        "ratio_process": round(c / d, 2),
        "ratio_call": round(v / d, 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"docker version over mTLS (median of {args.pairs}): {d * 1000:.0f} ms")
        print(f"dockwiz verify --lab, whole process ({probes} probes): {c * 1000:.0f} ms "
              f"= {c / d:.2f}x docker version")
        print(f"verify_host() call alone: {v * 1000:.0f} ms = {v / d:.2f}x docker version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
