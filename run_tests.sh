#!/usr/bin/env bash
# Install syncode with its test extras into a virtualenv, lint, and run the test suite.
# Usage: ./run_tests.sh [pytest args]     (SYNCODE_VENV picks the virtualenv, default .venv)
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SYNCODE_VENV:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev]"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest -q "$@"
