#!/usr/bin/env bash
# Install dockwiz and start the wizard on a throwaway lab host (a real dockerd in its own
# network namespace, started from seed 004's insecure 0.0.0.0:2375 setup). Your own Docker
# daemon and /etc/docker are never touched. Usage (as root): bash scripts/try-lab.sh [--scenario S]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/dockwiz --lab "$@"
