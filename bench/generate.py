"""Throughput of the synth job's LLM stages against a simulated vLLM server, next to Beam's RunInference vLLM handler.

Both clients send the same prompts (the same seeds and templates) to the same simulated server (bench/sim_server.py:
vLLM's scheduler on a virtual clock, with prefill time, a step token budget, a KV cache that limits how many
sequences run while the rest queue, and varied answers), in the same run. Ours runs as users run it, through the
real Beam job: `python -m pipeline synth --seeds ... --llm_endpoint URL`. The figure is the share of the simulated
GPU's capacity kept busy from the first request to the last completion. Goal: >= 0.9.

The seeds are the repository's own fixture (tests/data/seeds, real pages from the bundled sample), read through
ledger.records.seed_from_row and replicated with new ids; /work/shared is not needed. The GPU comparison against
`vllm bench throughput` (fraction_of_vllm_bench) needs a GPU and is not run here.

    python bench/generate.py [--smoke] [--seeds_n 2000] [--peer_timeout_s 180] [simulator flags, see --help]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
SEED_FIXTURE = REPO / "tests" / "data" / "seeds" / "train-00000-of-00001.parquet"
sys.path.insert(0, str(REPO))

from bench.sim_server import GpuModel, add_model_flags  # noqa: E402
from ledger.records import SEED_SCHEMA, seed_from_row  # noqa: E402
from pipeline.vllm_server import free_port  # noqa: E402


def call(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def make_seeds(directory: Path, n: int) -> None:
    """n seed rows from the real fixture, each with its own id and title so every prompt differs."""
    rows = [seed_from_row(r) for r in pq.read_table(SEED_FIXTURE).to_pylist()]
    out = [rows[i % len(rows)]._replace(id=f"bench-{i:05d}", title=f"{rows[i % len(rows)].title} (part {i})")._asdict()
           for i in range(n)]
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(out, schema=SEED_SCHEMA), directory / "train-00000-of-00001.parquet")


def measure(base: str, cmd: list[str], timeout_s: float, label: str) -> dict:
    """Run one client against a freshly reset server; the share of C comes from the server's own count."""
    call(base + "/reset", "POST")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        finished = proc.returncode == 0
        if not finished:
            print(f"{label}: exit {proc.returncode}\n{proc.stderr[-2000:]}", file=sys.stderr)
    except subprocess.TimeoutExpired:
        finished = False  # the share is still measured over the time it ran
    stats = call(base + "/stats")
    stats.update(wall_s=round(time.monotonic() - started, 1), finished=finished)
    print(f"{label:28s} fraction={stats['fraction_of_capacity']:.3f} requests={stats['requests']} "
          f"prompt_tokens={stats['prompt_tokens']} output_tokens={stats['tokens']} window={stats['window_s']:.1f}s "
          f"max_running={stats['max_running']} max_waiting={stats['max_waiting']} "
          f"preemptions={stats['preemptions']} sim_lag={stats['max_lag_s']}s wall={stats['wall_s']}s "
          f"finished={finished}", flush=True)
    print(f"{'':28s} share of capacity per second: {' '.join(f'{x:.2f}' for x in stats['timeline'])}", flush=True)
    print(f"{'':28s} requests per second: {' '.join(str(x) for x in stats['arrivals'])}", flush=True)
    return stats


def funnel(out: Path) -> dict[str, dict]:
    """Each stage's row of the synth job's funnel, from the manifest it wrote."""
    manifest = json.loads((out / "manifest.json").read_text())
    return {row["stage"]: row for row in manifest["jobs"]["synth"]["funnel"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds_n", type=int, default=2000)
    parser.add_argument("--responses", type=int, default=2, help="response samples per question")
    add_model_flags(parser)
    parser.add_argument("--ours_timeout_s", type=float, default=None, help="default 1800 s, 120 s with --smoke")
    parser.add_argument("--peer_timeout_s", type=float, default=None, help="default 180 s, 120 s with --smoke")
    parser.add_argument("--skip_peer", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="a check that the bench runs: 24 seeds, 1 response, the batch-64 peer only, "
                        "a 10x faster simulated GPU, a median answer of 50 tokens")
    args = parser.parse_args()
    if args.smoke:
        args.seeds_n, args.responses = min(args.seeds_n, 24), 1
        args.capacity, args.stream_speed, args.prefill_speed = (10 * x for x in (  # a 10x faster GPU, short answers
            args.capacity, args.stream_speed, args.prefill_speed))
        args.median = min(args.median, 50.0)
    args.ours_timeout_s = args.ours_timeout_s or (120.0 if args.smoke else 1800.0)
    args.peer_timeout_s = args.peer_timeout_s or (120.0 if args.smoke else 180.0)
    gpu = GpuModel(args.capacity, args.stream_speed, args.max_num_seqs, args.prefill_speed,
                   args.max_num_batched_tokens, args.kv_cache_tokens, args.block_size)

    work = Path(tempfile.mkdtemp(prefix="syncode-bench-generate-"))
    make_seeds(work / "seeds", args.seeds_n)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    model_flags = [f"--{name}={getattr(args, name)}" for name in
                   ("capacity", "stream_speed", "max_num_seqs", "prefill_speed", "max_num_batched_tokens",
                    "kv_cache_tokens", "block_size", "median", "sigma")]
    server = subprocess.Popen([sys.executable, str(REPO / "bench" / "sim_server.py"), "--port", str(port),
                               *model_flags], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                call(base + "/v1/models")
                break
            except OSError:
                time.sleep(0.1)
        print(f"simulated vLLM: {gpu.capacity:.0f} decode tokens/s at {gpu.max_num_seqs} sequences, "
              f"{gpu.stream_speed:.0f} for one, prefill {gpu.prefill_speed:.0f} tokens/s, "
              f"{gpu.max_num_batched_tokens} tokens/step, KV cache {gpu.kv_cache_tokens} tokens; output median "
              f"{args.median:.0f} sigma {args.sigma}; {args.seeds_n} seeds x (1 question + {args.responses} "
              f"responses); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
        env_py = sys.executable
        ours = measure(base, [env_py, "-m", "pipeline", "synth", "--seeds", str(work / "seeds"), "--output",
                              str(work / "out"), "--llm_endpoint", base + "/v1", "--progress_interval_s", "30",
                              "--set", f"synth.responses_per_question={args.responses}",
                              "--set", "synth.languages=[en]", "--set", "synth.language_weights=[1.0]"],
                       args.ours_timeout_s, "ours (python -m pipeline synth)")
        rows = funnel(work / "out") if ours["finished"] else {}
        questions = rows.get("GenerateQuestions", {}).get("kept", 0)
        kept = rows.get("GenerateResponses", {}).get("in", 0) // max(1, args.responses)
        pairs = rows.get("WritePairs", {}).get("kept", 0)
        print(f"{'':28s} questions {questions} of {args.seeds_n}, {kept} after decontamination and dedup, "
              f"{pairs} pairs written", flush=True)
        nan = {"fraction_of_capacity": float("nan"), "finished": False}
        peer = peer64 = nan
        if not args.skip_peer:
            peer_cmd = [env_py, str(REPO / "bench" / "beam_handler_peer.py"), "--seeds", str(work / "seeds"),
                        "--endpoint", base + "/v1", "--responses", str(args.responses)]
            if not args.smoke:
                peer = measure(base, peer_cmd, args.peer_timeout_s, "Beam RunInference default")
            peer64 = measure(base, [*peer_cmd, "--batch", "64"], args.peer_timeout_s, "Beam RunInference batch=64")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print("fraction_of_vllm_bench: skipped, no GPU in this run (needs `vllm bench throughput` on a GPU)")
    print(f"RESULT fraction_of_capacity={ours['fraction_of_capacity']:.3f} "
          f"beam_handler_fraction={peer['fraction_of_capacity']:.3f} "
          f"beam_handler_batch64_fraction={peer64['fraction_of_capacity']:.3f} "
          f"questions_kept_after_dedup={kept} pairs={pairs} ours_finished={int(ours['finished'])} "
          f"beam_handler_finished={int(peer['finished'])} beam_handler_batch64_finished={int(peer64['finished'])}")
    return 0 if ours["finished"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
