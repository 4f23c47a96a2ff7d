#!/usr/bin/env bash
# Install dockwiz into ./.venv, plus the system packages a lab host needs.
# Usage (as root on Debian 12): bash scripts/install.sh [--test]
#   --test  also installs what the test suite needs (pytest & co, tmux, busybox-static, rsvg)
#           and fetches the lab engines (dockwiz lab engines --fetch).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (labs start a real dockerd in a network namespace)" >&2
  exit 1
fi

# dockerd (Debian's docker.io) for lab hosts, iproute2 for namespaces, util-linux for nsenter/unshare.
pkgs=(docker.io iproute2 util-linux ca-certificates openssl)
[ "$with_tests" = 1 ] && pkgs+=(tmux busybox-static librsvg2-bin git systemd-container debootstrap openssh-server openssh-client)
python3 -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv python3-pip)
command -v python3 >/dev/null || pkgs+=(python3 python3-venv python3-pip)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$with_tests" = 1 ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
if [ "$with_tests" = 1 ]; then
  # the lab engines the e2e tests run (Docker 26.1 and 28.5 from Debian's archive, ~20 MB each,
  # cached in /var/cache/dockwiz/engines; never installed, the machine's apt setup untouched)
  .venv/bin/dockwiz lab engines --fetch >/dev/null
fi
echo "install.sh: dockwiz installed in $(pwd)/.venv ($(.venv/bin/dockwiz --version))"
