"""Benchmark: the full TLS set (CA + server + client) by ``dockwiz certs init`` vs the recipe.

The recipe is the tutorials' openssl sequence as seed 001 writes it (RSA-4096 CA, server key +
CSR + signing with a SAN extfile, client key + CSR + signing with an EKU extfile), run as one
shell script. dockwiz runs as a whole process, the command a user would type::

    dockwiz certs init --root DIR --san docker.example.com --client laptop [--key-type rsa-4096]

(SAN detection included). dockwiz runs with Python's bytecode cache allowed
(PYTHONDONTWRITEBYTECODE removed from its environment), as in any pip install, which
compiles .pyc files; an untimed warm-up run fills the cache. The three runs of a pair happen
back to back in a shuffled order, each in a fresh directory, so load changes on a shared
machine hit all of them alike; the figures are medians over the pairs.

Targets: default key type at least 20x faster than the recipe; RSA-4096 at most 0.4x its time.

    .venv/bin/python -m bench.pki [--pairs 7] [--check]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = r"""set -euo pipefail
openssl genrsa -out ca-key.pem 4096
openssl req -new -x509 -days 365 -key ca-key.pem -sha256 -subj "/CN=docker-CA" -out ca.pem
openssl genrsa -out server-key.pem 4096
openssl req -subj "/CN=docker.example.com" -new -key server-key.pem -out server.csr
openssl x509 -req -days 365 -sha256 \
    -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
    -out server-cert.pem \
    -extfile <(echo subjectAltName = DNS:docker.example.com,IP:10.0.0.5)
openssl genrsa -out client-key.pem 4096
openssl req -subj "/CN=docker-client" -new -key client-key.pem -out client.csr
echo extendedKeyUsage = clientAuth > extfile-client.cnf
openssl x509 -req -days 365 -sha256 \
    -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
    -out client-cert.pem -extfile extfile-client.cnf
"""


DOCKWIZ_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def dockwiz_argv() -> list[str]:
    """The installed console script next to this interpreter (what a user runs)."""
    script = Path(sys.executable).parent / "dockwiz"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dockwiz"]


def run_recipe(script: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-recipe-"))
    try:
        started = time.perf_counter()
        subprocess.run(["bash", str(script)], cwd=work, check=True, capture_output=True)
        elapsed = time.perf_counter() - started
        assert (work / "server-cert.pem").exists() and (work / "client-cert.pem").exists()
        return elapsed
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_dockwiz(key_type: str | None) -> float:
    root = Path(tempfile.mkdtemp(prefix="bench-dockwiz-"))
    argv = [
        *dockwiz_argv(),
        "certs",
        "init",
        "--root",
        str(root),
        "--san",
        "docker.example.com",
        "--client",
        "laptop",
    ]
    if key_type:
        argv += ["--key-type", key_type]
    try:
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=DOCKWIZ_ENV)
        elapsed = time.perf_counter() - started
        for rel in (
            "etc/docker/tls/server-cert.pem",
            "etc/dockwiz/clients/laptop/cert.pem",
            "etc/dockwiz/ca/ca-key.pem",
        ):
            assert (root / rel).exists(), rel
        return elapsed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="paired runs (>= 5)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error("use at least 5 pairs")

    script = Path(tempfile.mkdtemp(prefix="bench-script-")) / "recipe.sh"
    script.write_text(RECIPE)
    run_dockwiz(None)  # warm the page cache and .pyc files once, untimed
    runs: dict[str, list[float]] = {"recipe": [], "default": [], "rsa-4096": []}
    jobs = {
        "recipe": lambda: run_recipe(script),
        "default": lambda: run_dockwiz(None),
        "rsa-4096": lambda: run_dockwiz("rsa-4096"),
    }
    print(f"{'pair':>4} {'recipe':>9} {'dockwiz':>9} {'dw rsa4096':>11}")
    for i in range(args.pairs):
        order = list(jobs)
        random.shuffle(order)
        for name in order:
            runs[name].append(jobs[name]())
        print(
            f"{i + 1:>4} {runs['recipe'][-1]:>8.3f}s {runs['default'][-1]:>8.3f}s "
            f"{runs['rsa-4096'][-1]:>10.3f}s",
            flush=True,
        )
    shutil.rmtree(script.parent, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    speedup = med["recipe"] / med["default"]
    rsa_ratio = med["rsa-4096"] / med["recipe"]
    pair_speedups = [r / d for r, d in zip(runs["recipe"], runs["default"], strict=True)]
    pair_rsa = [d / r for r, d in zip(runs["recipe"], runs["rsa-4096"], strict=True)]
    print()
    print(f"median recipe (openssl, RSA-4096 x3):        {med['recipe']:.3f} s")
    print(f"median dockwiz certs init (ecdsa-p256):      {med['default']:.3f} s")
    print(f"median dockwiz certs init --key-type rsa-4096: {med['rsa-4096']:.3f} s")
    ok_fast = speedup >= 20
    ok_rsa = rsa_ratio <= 0.4
    print(
        f"default key type: {speedup:.1f}x faster than the recipe "
        f"(median of pair ratios {statistics.median(pair_speedups):.1f}x; target >= 20x: "
        f"{'PASS' if ok_fast else 'MISS'})"
    )
    print(
        f"rsa-4096 option: {rsa_ratio:.2f}x the recipe's time "
        f"(median of pair ratios {statistics.median(pair_rsa):.2f}x; target <= 0.4x: "
        f"{'PASS' if ok_rsa else 'MISS'})"
    )
    return 0 if (ok_fast and ok_rsa) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
