#!/usr/bin/env bash
# Install what the tests need and run them all: lint, types, unit, real-daemon e2e, UI.
# Usage (as root on Debian 12): bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
echo "== ruff";   .venv/bin/ruff check src tests bench
echo "== mypy";   .venv/bin/mypy
echo "== import layers"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider "$@"
