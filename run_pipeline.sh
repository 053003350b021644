#!/usr/bin/env bash
# One command on a fresh machine: install syncode into a virtualenv and run the main job on the bundled sample.
# Usage: ./run_pipeline.sh [extra flags, e.g. --llm_endpoint http://127.0.0.1:8000/v1 or --serve_model DIR]
# SYNCODE_VENV picks the virtualenv (default .venv); SYNCODE_OUT the output directory (default out/sample).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SYNCODE_VENV:-.venv}"
PY="${PYTHON:-python3}"
OUT="${SYNCODE_OUT:-out/sample}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pipeline, apache_beam" 2>/dev/null; then
  echo "installing syncode into $VENV ..."
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e .
fi
exec "$VENV/bin/python" -m pipeline all --input "sample/warc/*.warc.gz" --output "$OUT" "$@"
