#!/usr/bin/env bash
# Build the benchmark peers' venv (datatrove pins trafilatura<1.12, so it cannot share ours). Idempotent.
# Usage: bench/setup_peers.sh [VENV_DIR]   (default .bench-venv; point SYNCODE_PEER_PYTHON at VENV_DIR/bin/python)
set -euo pipefail
VENV="${1:-.bench-venv}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import datatrove, spacy, xxhash" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "datatrove[io,processing]==0.10.1" spacy tokenizers orjson "xxhash<4"
