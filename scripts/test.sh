#!/usr/bin/env bash
# Install the project and its test tools into .venv, then lint, type-check and test.
# The tests start their own MongoDB-wire server (secantusdb) and websites on 127.0.0.1;
# set MONGODB_URI to run them against a real mongod instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
# docker-compose (Debian's package) validates docker-compose.yml without a Docker engine.
if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -qq docker-compose >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker-compose; } >/dev/null 2>&1) || echo "note: docker-compose not installed; its test will skip"
fi
# mongosh (npm) runs the docs' mongosh recipes in tests/cli/test_inspect.py; pinned by package-lock.json.
if [ ! -x node_modules/.bin/mongosh ]; then
  npm ci --no-audit --no-fund --silent
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy crawler spiders scheduler.py
# Two pytest-xdist workers per core, at most 8: the suite is mostly real crawls, services and
# servers in child processes, and a worker waiting on them leaves its core idle (measured on
# 2 cores: 4 workers kept the cores busy where 2 left them idle a third of the time).
# worksteal keeps every worker busy when the long service tests land on one.
cores=$(nproc 2>/dev/null || echo 2)
workers=$((2 * cores > 8 ? 8 : 2 * cores))
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-$workers}" --dist worksteal "$@"
