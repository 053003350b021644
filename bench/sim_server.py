"""A simulated vLLM server on the OpenAI chat API, to measure LLM clients on a CPU machine.

It models what decides a client's throughput on vLLM (v1 scheduler, chunked prefill, recompute preemption):

- the engine runs in steps; a step decodes one token for every running sequence and prefills up to the step's
  token budget of prompt chunks; its time is `t_base + decodes * t_seq + prefill_tokens / prefill_speed`, with
  `t_base` and `t_seq` set so that one lone sequence decodes at `stream_speed` and `max_num_seqs` sequences at
  `capacity` tokens/s (a lone sequence cannot use the whole GPU, and a full batch can);
- prompt tokens cost prefill time (`prefill_speed` prompt tokens/s), so long prompts are not free;
- the KV cache holds `kv_cache_tokens` tokens (prompt + output, in blocks of `block_size`): a sequence is admitted
  only when its next chunk fits, running sequences that outgrow it preempt the newest one (its KV is freed and
  recomputed later), and everything else waits in FCFS order, as in vLLM's scheduler;
- answers vary as a model's do: each is drawn, deterministically, from the request's messages and how often this
  exact request was seen since the last reset (two samples of one prompt differ); the length is lognormal (median
  `median`, `sigma`), capped by max_tokens (finish_reason "length"); the words come from the prompt and a fixed
  vocabulary, and a request with a JSON schema gets a JSON object that fits it (the question role's keys and enums).

GET /stats reports the share of the GPU's capacity the client kept busy, from its first request to the last
completion: each step's work at full-batch rates (`decodes / capacity + prefill_tokens / prefill_speed`) over the
window; a full-batch decode step counts 1, a lone sequence 1/`max_num_seqs` of that. POST /reset starts a new
measurement and aborts what is still queued or running.

    python bench/sim_server.py --port 8000 [--capacity 12500 --stream_speed 125 --max_num_seqs 256 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sim_answers import Answerer  # noqa: E402


@dataclass(frozen=True)
class GpuModel:
    """The simulated GPU and engine settings (defaults: an 8B model in bf16 on one H100 80 GB, vLLM defaults)."""

    capacity: float = 12500.0  # decode tokens/s with max_num_seqs sequences running
    stream_speed: float = 125.0  # decode tokens/s of one lone sequence
    max_num_seqs: int = 256  # vLLM --max-num-seqs
    prefill_speed: float = 30000.0  # prompt tokens/s of a step that only prefills (compute-bound)
    max_num_batched_tokens: int = 8192  # tokens one step may process, decodes and prefill chunks together
    kv_cache_tokens: int = 400_000  # KV cache size: ~50 GB free after weights at 128 KiB per token (8 KV heads)
    block_size: int = 16  # KV cache block, in tokens

    def __post_init__(self) -> None:
        if self.capacity >= self.max_num_seqs * self.stream_speed or self.capacity <= self.stream_speed:
            raise ValueError("need stream_speed < capacity < max_num_seqs * stream_speed")

    @property
    def t_seq(self) -> float:
        """Seconds one more decoding sequence adds to a step."""
        return (self.max_num_seqs / self.capacity - 1 / self.stream_speed) / (self.max_num_seqs - 1)

    @property
    def t_base(self) -> float:
        """Seconds of a step whatever it holds (weights read once per step)."""
        return 1 / self.stream_speed - self.t_seq

    def step_time(self, decodes: int, prefill_tokens: int) -> float:
        return self.t_base + decodes * self.t_seq + prefill_tokens / self.prefill_speed

    def step_work(self, decodes: int, prefill_tokens: int) -> float:
        """The step's work in seconds of a fully used GPU."""
        return decodes / self.capacity + prefill_tokens / self.prefill_speed


@dataclass(eq=False)  # identity: two requests in the same state are still two
class Sequence:
    """One request inside the engine."""

    prompt_tokens: int
    output_tokens: int
    ticket: Any = None  # what the driver resolves when the sequence finishes
    computed: int = 0  # tokens whose KV is in the cache (prompt, then prompt + generated after a recompute)
    generated: int = 0
    blocks: int = 0

    @property
    def remaining(self) -> int:
        """Tokens to run through the model before the next sample: the prompt (chunks), then one per decode."""
        return self.prompt_tokens + self.generated - self.computed


@dataclass
class StepResult:
    duration: float
    work: float
    decodes: int
    prefill_tokens: int
    finished: list[Sequence] = field(default_factory=list)


class Engine:
    """vLLM's scheduling loop on virtual time: admit while KV blocks and the token budget allow, preempt when full."""

    def __init__(self, gpu: GpuModel):
        self.gpu = gpu
        self.total_blocks = gpu.kv_cache_tokens // gpu.block_size
        self.free_blocks = self.total_blocks
        self.running: list[Sequence] = []  # in admission order; the last one is preempted first
        self.waiting: deque[Sequence] = deque()
        self.preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def abort_all(self) -> list[Sequence]:
        gone = [*self.running, *self.waiting]
        self.running, self.waiting, self.free_blocks = [], deque(), self.total_blocks
        return gone

    def _blocks_for(self, seq: Sequence, new_tokens: int) -> int:
        return max(0, -(-(seq.computed + new_tokens) // self.gpu.block_size) - seq.blocks)

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.free_blocks += seq.blocks
        seq.blocks = seq.computed = 0  # recompute: prompt and generated tokens are prefilled again
        self.waiting.appendleft(seq)
        self.preemptions += 1

    def step(self) -> StepResult | None:
        """Schedule and run one step; None when there is nothing to run."""
        budget = self.gpu.max_num_batched_tokens
        plan: list[tuple[Sequence, int]] = []
        preempted = False
        for seq in list(self.running):
            if seq not in self.running:
                continue  # preempted earlier in this step
            n = min(seq.remaining, budget)
            if n <= 0:
                break
            need = self._blocks_for(seq, n)
            while need > self.free_blocks and self.running[-1] is not seq:
                self._preempt(self.running[-1])
                preempted = True
            if need > self.free_blocks:
                self._preempt(seq)
                preempted = True
                break
            self.free_blocks -= need
            seq.blocks += need
            plan.append((seq, n))
            budget -= n
        while not preempted and self.waiting and len(self.running) < self.gpu.max_num_seqs and budget > 0:
            seq = self.waiting[0]
            n = min(seq.remaining, budget)
            need = self._blocks_for(seq, n)
            if need > self.free_blocks:
                break
            self.waiting.popleft()
            self.free_blocks -= need
            seq.blocks += need
            self.running.append(seq)
            plan.append((seq, n))
            budget -= n
        if not plan:
            return None
        decodes = prefill = 0
        finished = []
        for seq, n in plan:
            sampled = n == seq.remaining  # a chunk that reaches the end samples the next token
            if sampled and n == 1 and seq.generated:
                decodes += 1  # a decode: the last sampled token goes in, the next comes out
            else:
                prefill += n
            seq.computed += n
            if not sampled:
                continue
            seq.generated += 1
            if seq.generated >= seq.output_tokens:
                finished.append(seq)
        for seq in finished:
            self.running.remove(seq)
            self.free_blocks += seq.blocks
        return StepResult(self.gpu.step_time(decodes, prefill), self.gpu.step_work(decodes, prefill), decodes,
                          prefill, finished)


class Driver:
    """Runs the engine against the wall clock and keeps the measurement (window, work, timeline)."""

    def __init__(self, gpu: GpuModel):
        self.gpu = gpu
        self.engine = Engine(gpu)
        self.wake = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        for seq in self.engine.abort_all():
            if not seq.ticket.done():
                seq.ticket.cancel()
        self.seen: Counter[str] = Counter()
        self.tokens = self.prompt_tokens = self.requests = 0
        self.work = 0.0
        self.first: float | None = None
        self.last_done: float | None = None
        self.max_seen_running = self.max_seen_waiting = 0
        self.max_lag = 0.0
        self.preemptions_at_reset = self.engine.preemptions
        self.timeline: list[float] = []
        self.arrivals: list[int] = []

    def submit(self, prompt_tokens: int, output_tokens: int) -> asyncio.Future:
        ticket = asyncio.get_running_loop().create_future()
        now = time.monotonic()
        self.first = self.first or now
        _bump(self.arrivals, int(now - self.first), 1)
        self.engine.add(Sequence(prompt_tokens, output_tokens, ticket))
        self.wake.set()
        return ticket

    async def run(self) -> None:
        clock = time.monotonic()
        while True:
            result = self.engine.step()
            if result is None:
                self.wake.clear()
                await self.wake.wait()
                clock = time.monotonic()
                continue
            start = clock  # busy: the next step starts when the last one ended, even if the CPU made us late
            clock = start + result.duration
            delay = clock - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.max_lag = max(self.max_lag, -delay)  # the simulator itself fell behind (a busy CPU)
            self.work += result.work
            if self.first is not None:
                _bump(self.timeline, int(start - self.first), result.work)
            self.max_seen_running = max(self.max_seen_running, len(self.engine.running) + len(result.finished))
            self.max_seen_waiting = max(self.max_seen_waiting, len(self.engine.waiting))
            for seq in result.finished:
                self.tokens += seq.output_tokens
                self.prompt_tokens += seq.prompt_tokens
                self.requests += 1
                self.last_done = clock
                if not seq.ticket.done():
                    seq.ticket.set_result(None)

    def stats(self) -> dict[str, Any]:
        window = (self.last_done - self.first) if self.first and self.last_done else 0.0
        return {"tokens": self.tokens, "prompt_tokens": self.prompt_tokens, "requests": self.requests,
                "window_s": window, "capacity": self.gpu.capacity, "work_s": self.work,
                "fraction_of_capacity": min(self.work, window) / window if window else 0.0,
                "max_running": self.max_seen_running, "max_waiting": self.max_seen_waiting,
                "preemptions": self.engine.preemptions - self.preemptions_at_reset,
                "max_lag_s": round(self.max_lag, 3), "timeline": [round(t, 2) for t in self.timeline],
                "arrivals": self.arrivals, "running_now": len(self.engine.running),
                "waiting_now": len(self.engine.waiting)}


_WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,20}")


def _bump(series: list, index: int, value: float) -> None:
    while len(series) <= index:
        series.append(0)
    series[index] += value


class SimServer:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.gpu = GpuModel(args.capacity, args.stream_speed, args.max_num_seqs, args.prefill_speed,
                            args.max_num_batched_tokens, args.kv_cache_tokens, args.block_size)
        self.answerer = Answerer(args.median, args.sigma)
        self.driver: Driver | None = None

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or [{"content": body.get("prompt", "")}]
        content = "\n".join(str(m.get("content", "")) for m in messages)
        key = json.dumps([messages, body.get("max_tokens"), body.get("response_format")], sort_keys=True)
        driver = self.driver
        driver.seen[key] += 1
        rng = self.answerer.rng(key, driver.seen[key])
        max_tokens = int(body.get("max_tokens") or 1024)
        tokens = self.answerer.length(rng, max_tokens)
        prompt_tokens = max(1, len(content) // 4)
        if prompt_tokens + max_tokens > self.gpu.kv_cache_tokens:
            raise ValueError(f"{prompt_tokens} prompt + {max_tokens} max_tokens exceed the KV cache")
        await driver.submit(prompt_tokens, tokens)
        prompt_words = _WORD.findall(messages[-1].get("content", "") if messages else "")[-400:]
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema" and tokens < max_tokens:
            text = self.answerer.json_answer(rng, fmt["json_schema"]["schema"], prompt_words, tokens)
        else:
            text = self.answerer.words(rng, prompt_words, tokens)
        finish = "length" if tokens >= max_tokens else "stop"
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens, "total_tokens": prompt_tokens + tokens}
        if "messages" not in body:
            return {"id": "cmpl-sim", "object": "text_completion", "created": int(time.time()),
                    "model": body.get("model"), "usage": usage,
                    "choices": [{"index": 0, "text": text, "finish_reason": finish}]}
        return {"id": "chatcmpl-sim", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"), "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                status, payload = await self.route(method, path.split("?")[0], body)
                data = json.dumps(payload).encode()
                writer.write(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: "
                             f"{len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, ValueError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": self.args.model, "object": "model"}]}
        if path.endswith("/chat/completions") or path.endswith("/completions"):
            try:
                return 200, await self.chat(json.loads(body))
            except ValueError as e:  # as vLLM answers a request longer than the model's context
                return 400, {"error": {"message": str(e), "type": "BadRequestError"}}
        if path == "/stats":
            return 200, self.driver.stats()
        if path == "/reset":
            self.driver.reset()
            return 200, {"ok": True}
        return 404, {"error": {"message": f"no route {path}"}}

    async def serve(self) -> None:
        self.driver = Driver(self.gpu)
        asyncio.get_running_loop().create_task(self.driver.run())
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.args.port, backlog=4096)
        print(f"sim server on http://127.0.0.1:{self.args.port}/v1", flush=True)
        async with server:
            await server.serve_forever()


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """The simulated GPU's flags, shared with bench/generate.py."""
    d = GpuModel()
    parser.add_argument("--capacity", type=float, default=d.capacity, help="decode tokens/s at max_num_seqs")
    parser.add_argument("--stream_speed", type=float, default=d.stream_speed, help="decode tokens/s of one sequence")
    parser.add_argument("--max_num_seqs", type=int, default=d.max_num_seqs, help="sequences running at once")
    parser.add_argument("--prefill_speed", type=float, default=d.prefill_speed, help="prompt tokens/s")
    parser.add_argument("--max_num_batched_tokens", type=int, default=d.max_num_batched_tokens,
                        help="tokens per engine step")
    parser.add_argument("--kv_cache_tokens", type=int, default=d.kv_cache_tokens, help="KV cache size in tokens")
    parser.add_argument("--block_size", type=int, default=d.block_size, help="KV cache block in tokens")
    parser.add_argument("--median", type=float, default=200.0, help="median output tokens")
    parser.add_argument("--sigma", type=float, default=1.0, help="lognormal sigma of output lengths")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    add_model_flags(parser)
    parser.add_argument("--model", default="sim-gpu-8b")
    asyncio.run(SimServer(parser.parse_args()).serve())


if __name__ == "__main__":
    main()
