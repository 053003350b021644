#!/usr/bin/env bash
# Build the benchmark peers' venv (datatrove pins trafilatura<1.12, so it cannot share ours). Idempotent.
# Usage: bench/setup_peers.sh [VENV_DIR]   (default .bench-venv; point SYNCODE_PEER_PYTHON at VENV_DIR/bin/python)
# Pinned: trafilatura 1.11 imports lxml.html.clean, which lxml >= 5.2 moved out to lxml_html_clean; without it
# datatrove's extractor child fails to import and every page waits out its timeout (issue 15).
set -euo pipefail
VENV="${1:-.bench-venv}"
CHECK="import datatrove, spacy, xxhash, fasttext, lxml_html_clean, trafilatura
from trafilatura import extract
assert extract('<html><body><article><p>' + 'Peer venv check sentence. ' * 20 + '</p></article></body></html>')"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "datatrove[io,processing]==0.10.1" "trafilatura==1.11.0" "lxml_html_clean==0.4.6" \
  "fasttext-numpy2-wheel==0.9.2" spacy tokenizers orjson "xxhash<4"
"$VENV/bin/python" -c "$CHECK"
