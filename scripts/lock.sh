#!/usr/bin/env bash
# Regenerate constraints.txt, the pinned versions every install uses (scripts/run.sh,
# scripts/test.sh, CI, the Dockerfile). `./scripts/lock.sh --upgrade` moves every
# dependency to its newest release allowed by pyproject.toml; then run ./scripts/test.sh
# and commit constraints.txt together with any code the upgrade needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet "pip-tools>=7.4"
exec .venv/bin/pip-compile --quiet --all-extras --strip-extras --allow-unsafe \
  --no-emit-index-url --no-emit-find-links --output-file constraints.txt "$@" pyproject.toml
