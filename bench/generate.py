"""Throughput of the synth job's LLM stages against a simulated GPU server, next to Beam's RunInference vLLM handler.

Both clients send the same prompts (the same seeds and templates) to the same simulated continuous-batching server
(bench/sim_server.py: capacity C tokens/s, at most 256 sequences at once, each capped at a single-stream speed,
heavy-tailed output lengths decided by the prompt), in the same run. Ours runs as users run it, through the real
Beam job: `python -m pipeline synth --seeds ... --llm_endpoint URL`. The figure is the share of C kept busy from the
first request to the last completion. Goal: >= 0.9.

The seeds are the repository's own fixture (tests/data/seeds, real pages from the bundled sample), replicated with
new ids; /work/shared is not needed. The GPU comparison against `vllm bench throughput` (fraction_of_vllm_bench)
needs a GPU and is not run here.

    python bench/generate.py [--seeds_n 2000] [--capacity 12500] [--stream_speed 125] [--peer_timeout_s 180]
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
sys.path.insert(0, str(REPO))

from ledger.records import SEED_SCHEMA  # noqa: E402
from pipeline.vllm_server import free_port  # noqa: E402


def call(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def make_seeds(directory: Path, n: int) -> None:
    """n seed rows from the real fixture, each with its own id and title so every prompt differs."""
    rows = pq.read_table(REPO / "tests" / "data" / "seeds" / "train-00000-of-00001.parquet").to_pylist()
    out = [dict(rows[i % len(rows)], id=f"bench-{i:05d}", title=f"{rows[i % len(rows)]['title']} (part {i})")
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
    print(f"{label:28s} fraction={stats['fraction_of_capacity']:.3f} tokens={stats['tokens']} "
          f"requests={stats['requests']} window={stats['window_s']:.1f}s max_running={stats['max_running']} "
          f"wall={stats['wall_s']}s finished={finished}", flush=True)
    print(f"{'':28s} share of C per second: {' '.join(f'{x:.2f}' for x in stats['timeline'])}", flush=True)
    print(f"{'':28s} requests per second: {' '.join(str(x) for x in stats['arrivals'])}", flush=True)
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds_n", type=int, default=2000)
    parser.add_argument("--responses", type=int, default=2, help="response samples per question")
    parser.add_argument("--capacity", type=float, default=12500.0, help="C, output tokens/s (an 8B model on H100)")
    parser.add_argument("--stream_speed", type=float, default=125.0, help="tokens/s of one sequence")
    parser.add_argument("--max_running", type=int, default=256)
    parser.add_argument("--peer_timeout_s", type=float, default=180.0)
    parser.add_argument("--skip_peer", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="syncode-bench-generate-"))
    make_seeds(work / "seeds", args.seeds_n)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(REPO / "bench" / "sim_server.py"), "--port", str(port),
                               "--capacity", str(args.capacity), "--stream_speed", str(args.stream_speed),
                               "--max_running", str(args.max_running)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                call(base + "/v1/models")
                break
            except OSError:
                time.sleep(0.1)
        print(f"simulated server: C={args.capacity:.0f} tokens/s, at most {args.max_running} sequences, "
              f"{args.stream_speed:.0f} tokens/s per sequence; {args.seeds_n} seeds x (1 question + "
              f"{args.responses} responses); {os.cpu_count()} cores", flush=True)
        env_py = sys.executable
        ours = measure(base, [env_py, "-m", "pipeline", "synth", "--seeds", str(work / "seeds"), "--output",
                              str(work / "out"), "--llm_endpoint", base + "/v1", "--progress_interval_s", "30",
                              "--set", f"synth.responses_per_question={args.responses}",
                              "--set", "synth.languages=[en]", "--set", "synth.language_weights=[1.0]"],
                       1800, "ours (python -m pipeline synth)")
        peer = peer64 = {"fraction_of_capacity": float("nan")}
        if not args.skip_peer:
            peer_cmd = [env_py, str(REPO / "bench" / "beam_handler_peer.py"), "--seeds", str(work / "seeds"),
                        "--endpoint", base + "/v1", "--responses", str(args.responses)]
            peer = measure(base, peer_cmd, args.peer_timeout_s, "Beam RunInference default")
            peer64 = measure(base, [*peer_cmd, "--batch", "64"], args.peer_timeout_s, "Beam RunInference batch=64")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print("fraction_of_vllm_bench: skipped, no GPU in this run (needs `vllm bench throughput` on a GPU)")
    print(f"RESULT fraction_of_capacity={ours['fraction_of_capacity']:.3f} "
          f"beam_handler_fraction={peer['fraction_of_capacity']:.3f} "
          f"beam_handler_batch64_fraction={peer64['fraction_of_capacity']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
