#!/usr/bin/env bash
# Generation throughput on a GPU: our synth job against `vllm bench throughput` on the same prompts and the same
# model, a 7B layout with random weights (--load-format dummy; bench/models/qwen2.5-7b-layout.json with the
# tokenizer tests/make_tiny_model.py trains, whose vocabulary replaces the 152k one: ids past a tokenizer cannot be
# decoded). Both sides load the same directory on the same GPU, one after the other.
# Needs a CUDA GPU and a GPU vLLM (SYNCODE_VLLM_GPU_VENV, default ./.vllm-gpu-venv: pip install vllm==0.32.0).
# Usage: bench/gpu_generate.sh [NUM_SEEDS (default 2000)]
# Last line: RESULT fraction_of_vllm_bench=... synth_output_tokens_per_s=... vllm_bench_output_tokens_per_s=...
#            requests=... gpu=...
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
NUM_SEEDS="${1:-2000}"
VENV="${SYNCODE_VLLM_GPU_VENV:-$REPO/.vllm-gpu-venv}"
VPY="$VENV/bin/python"
SPY="${SYNCODE_PYTHON:-$REPO/.venv/bin/python}"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no GPU visible (nvidia-smi); nothing to measure"; echo "RESULT skipped=no_gpu"; exit 0
fi
if [ ! -x "$VPY" ]; then
  echo "no GPU vLLM at $VENV (python -m venv $VENV && $VENV/bin/pip install vllm==0.32.0)"
  echo "RESULT skipped=no_gpu_vllm"; exit 0
fi
GPU="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_')"
WORK="$(mktemp -d /tmp/syncode-gpu-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
MODEL="$WORK/model"

# 1. the model directory: tokenizer and chat template from make_tiny_model.py, the 7B layout's config, no weights
"$VPY" tests/make_tiny_model.py "$MODEL" >/dev/null
rm -f "$MODEL"/*.safetensors "$MODEL"/*.bin
"$VPY" - "$MODEL" bench/models/qwen2.5-7b-layout.json <<'PY'
import json, sys
from pathlib import Path
model, layout = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
tiny = json.loads((model / "config.json").read_text())
layout.update(vocab_size=tiny["vocab_size"], eos_token_id=tiny["eos_token_id"], bos_token_id=tiny["bos_token_id"],
              pad_token_id=tiny["pad_token_id"])
(model / "config.json").write_text(json.dumps(layout, indent=1))
PY
VLLM_ARGS="--load-format dummy --max-model-len 4096 --dtype bfloat16"

# 2. seeds: the bundled fixture repeated with distinct ids up to NUM_SEEDS
SEEDS="$WORK/seeds"
PYTHONPATH="$REPO" "$SPY" - "$SEEDS" "$NUM_SEEDS" <<'PY'
import sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from ledger.records import SEED_SCHEMA
rows = pq.read_table("tests/data/seeds/train-00000-of-00001.parquet").to_pylist()
out = [dict(rows[i % len(rows)], id=f"{rows[i % len(rows)]['id']}-{i}") for i in range(int(sys.argv[2]))]
Path(sys.argv[1]).mkdir(parents=True)
pq.write_table(pa.Table.from_pylist(out, schema=SEED_SCHEMA), f"{sys.argv[1]}/train-00000-of-00001.parquet")
PY

# 3. our synth job (questions only: one request per seed) through --serve_model, timed from the manifest
OUT="$WORK/synth"
PYTHONPATH="$REPO" SYNCODE_VLLM_GPU_VENV="$VENV" "$SPY" -m pipeline synth --seeds "$SEEDS" --output "$OUT" \
  --serve_model "$MODEL" --vllm_args "$VLLM_ARGS" --serve_timeout_s 900 --log_level warning \
  --set synth.cache=false --set synth.languages=[en] --set synth.language_weights=[1.0] \
  --set synth.roles.question.max_tokens=512 --set synth.roles.question.max_in_flight=512 \
  --set synth.responses_per_question=1 --set dedup.near.enabled=false --set dedup.exact=false \
  --set dedup.decontam.enabled=false > "$WORK/synth.log" 2>&1 || { tail -50 "$WORK/synth.log"; exit 1; }

# 4. the same prompts (rendered as the job rendered them) with the job's completion lengths, for vllm bench
PYTHONPATH="$REPO" "$SPY" - "$SEEDS" "$OUT" "$WORK/prompts.json" <<'PY'
import json, sys
import pyarrow.parquet as pq
from ledger.records import seed_from_row
from transforms.generate import GenerateQuestionsFn, SynthConfig
manifest = json.loads(open(f"{sys.argv[2]}/manifest.json").read())["jobs"]["synth"]
stage = next(s for s in manifest["funnel"] if s["stage"] == "GenerateQuestions")["counters"]
seeds = [seed_from_row(r) for r in pq.read_table(sys.argv[1]).to_pylist()]
fn = GenerateQuestionsFn("GenerateQuestions", SynthConfig().roles.question, SynthConfig(languages=("en",),
                         language_weights=(1.0,)), None)
per = max(1, stage.get("tokens_completion", 0) // max(1, stage.get("requests", 1)))
convs = [{"id": s.id, "conversations": [{"from": "human", "value": "\n\n".join(m["content"] for m in fn.request(s).messages)},
                                        {"from": "gpt", "value": " ".join(["x"] * per)}]} for s in seeds]
json.dump(convs, open(sys.argv[3], "w"))
print(json.dumps({"requests": stage.get("requests", 0), "completion_tokens": stage.get("tokens_completion", 0),
                  "wall_s": manifest["wall_seconds"]}))
PY
read -r REQS TOKS WALL < <(PYTHONPATH="$REPO" "$SPY" -c "
import json; m = json.load(open('$OUT/manifest.json'))['jobs']['synth']
s = next(s for s in m['funnel'] if s['stage'] == 'GenerateQuestions')['counters']
print(s.get('requests', 0), s.get('tokens_completion', 0), m['wall_seconds'])")

# 5. vllm bench throughput on those prompts, output lengths as the job's
"$VPY" -m vllm.entrypoints.cli.main bench throughput --model "$MODEL" $VLLM_ARGS \
  --dataset-name sharegpt --dataset-path "$WORK/prompts.json" --num-prompts "$REQS" \
  > "$WORK/bench.log" 2>&1 || { tail -50 "$WORK/bench.log"; exit 1; }
"$SPY" - "$WORK/bench.log" "$REQS" "$TOKS" "$WALL" "$GPU" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
reqs, toks, wall, gpu = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
# "Throughput: 12.3 requests/s, 4567.8 total tokens/s, 1234.5 output tokens/s"
match = re.search(r"([\d.]+) output tokens/s", log)
if not match:
    sys.exit("vllm bench printed no output tokens/s:\n" + log[-2000:])
theirs = float(match.group(1))
ours = toks / wall  # the graph's wall time: the server was up before it began, as vllm bench's model was loaded
print(f"synth: {toks} completion tokens for {reqs} requests in {wall:.0f}s; vllm bench: {theirs:.0f} output tok/s")
print(f"RESULT fraction_of_vllm_bench={ours / theirs:.3f} synth_output_tokens_per_s={ours:.0f} "
      f"vllm_bench_output_tokens_per_s={theirs:.0f} requests={reqs} gpu={gpu}")
PY
