#!/usr/bin/env bash
# Install the project into .venv and run the background service on config/sites.yaml.
# With no MONGODB_URI it starts the embedded MongoDB-compatible store in the per-user
# data folder (~/.local/share/newscrawl/mongo; NEWSCRAWL_DATA chooses another)
# and prints its URI. On a machine without internet, try `.venv/bin/newscrawl demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e .
exec .venv/bin/python scheduler.py "$@"
