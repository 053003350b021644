"""A simulated continuous-batching GPU server speaking the OpenAI chat API, to measure clients on a CPU machine.

Like vLLM on a GPU: at most `max_running` sequences decode at once (the rest wait), they share a capacity of C
output tokens/s, and each is capped at a single-stream speed (a lone sequence cannot use the whole GPU; without
this cap a sequential client would saturate it). Output lengths are heavy-tailed (lognormal, capped by the
request's max_tokens) and derived from a hash of the prompt, so two clients sending the same prompts get the same
work. GET /stats reports output tokens and the busy window; POST /reset starts a new measurement.

    python bench/sim_server.py --port 8000 --capacity 12500 --stream_speed 125
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import json
import math
import random
import time
from typing import Any


class Scheduler:
    """Shares C tokens/s among up to `max_running` sequences, each at most `stream_speed` tokens/s."""

    def __init__(self, capacity: float, stream_speed: float, max_running: int):
        self.capacity, self.stream_speed, self.max_running = capacity, stream_speed, max_running
        self.progress = 0.0  # tokens each running sequence has produced since the start (they all move together)
        self.last = time.monotonic()
        self.running: list[tuple[float, int, asyncio.Future]] = []  # heap of (progress at finish, id, future)
        self.waiting: list[tuple[int, asyncio.Future]] = []
        self.wake = asyncio.Event()
        self.counter = 0
        self.reset()

    def reset(self) -> None:
        self.tokens = 0
        self.requests = 0
        self.first: float | None = None
        self.last_done: float | None = None
        self.max_seen_running = 0
        self.timeline: list[float] = []
        self.arrivals: list[int] = []

    def rate(self) -> float:
        n = len(self.running)
        return min(self.stream_speed, self.capacity / n) if n else 0.0

    def submit(self, tokens: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.first = self.first or time.monotonic()
        second = int(time.monotonic() - self.first)
        while len(self.arrivals) <= second:
            self.arrivals.append(0)
        self.arrivals[second] += 1
        self.waiting.append((tokens, future))
        self.wake.set()
        return future

    def _advance(self) -> None:
        now = time.monotonic()
        self.progress += self.rate() * (now - self.last)
        if self.first is not None:  # decoded tokens per second of the measurement, to see ramp-up and tail
            second = int(now - self.first)
            while len(self.timeline) <= second:
                self.timeline.append(0.0)
            self.timeline[second] += self.rate() * len(self.running) * (now - self.last)
        self.last = now
        while self.running and self.running[0][0] <= self.progress + 1e-6:
            _, _, future = heapq.heappop(self.running)
            if not future.done():
                future.set_result(None)
        while self.waiting and len(self.running) < self.max_running:
            tokens, future = self.waiting.pop(0)
            self.counter += 1
            heapq.heappush(self.running, (self.progress + tokens, self.counter, future))
        self.max_seen_running = max(self.max_seen_running, len(self.running))

    async def run(self) -> None:
        while True:
            self._advance()
            timeout = None
            if self.running:
                timeout = max((self.running[0][0] - self.progress) / self.rate(), 0.0005)
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                pass

    def done(self, tokens: int) -> None:
        self.tokens += tokens
        self.requests += 1
        self.last_done = time.monotonic()

    def stats(self) -> dict[str, Any]:
        window = (self.last_done - self.first) if self.first and self.last_done else 0.0
        return {"tokens": self.tokens, "requests": self.requests, "window_s": window, "capacity": self.capacity,
                "fraction_of_capacity": self.tokens / (self.capacity * window) if window else 0.0,
                "max_running": self.max_seen_running,
                "timeline": [round(t / self.capacity, 2) for t in self.timeline], "arrivals": self.arrivals,
                "running_now": len(self.running), "waiting_now": len(self.waiting)}


def output_length(prompt: str, max_tokens: int, median: float, sigma: float) -> int:
    """A heavy-tailed output length that depends only on the prompt, capped by max_tokens."""
    rng = random.Random(int(hashlib.blake2b(prompt.encode(), digest_size=8).hexdigest(), 16))
    return max(1, min(max_tokens, int(rng.lognormvariate(math.log(median), sigma))))


def schema_instance(schema: dict[str, Any], words: int) -> dict[str, Any]:
    """A JSON object that fits a flat object schema, its first string padded to about `words` tokens."""
    out: dict[str, Any] = {}
    filled = False
    for key, spec in schema.get("properties", {}).items():
        if "enum" in spec:
            out[key] = spec["enum"][0]
        elif spec.get("type") == "boolean":
            out[key] = True
        elif spec.get("type") == "integer":
            out[key] = spec.get("minimum", 1)
        elif not filled:
            out[key] = " ".join(["tok"] * max(1, words - 20))
            filled = True
        else:
            out[key] = "Python"
    return out


class SimServer:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.scheduler = Scheduler(args.capacity, args.stream_speed, args.max_running)

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or [{"content": body.get("prompt", "")}]
        prompt = json.dumps(messages, sort_keys=True)
        tokens = output_length(prompt, int(body.get("max_tokens") or 1024), self.args.median, self.args.sigma)
        await self.scheduler.submit(tokens)
        self.scheduler.done(tokens)
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            text = json.dumps(schema_instance(fmt["json_schema"]["schema"], tokens))
        else:
            text = " ".join(["tok"] * tokens)
        finish = "length" if tokens >= int(body.get("max_tokens") or 1024) else "stop"
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": tokens,
                 "total_tokens": len(prompt) // 4 + tokens}
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
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": self.args.model, "object": "model"}]}
        if path.endswith("/chat/completions") or path.endswith("/completions"):
            return 200, await self.chat(json.loads(body))
        if path == "/stats":
            return 200, self.scheduler.stats()
        if path == "/reset":
            self.scheduler.reset()
            return 200, {"ok": True}
        return 404, {"error": {"message": f"no route {path}"}}

    async def serve(self) -> None:
        asyncio.get_running_loop().create_task(self.scheduler.run())
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.args.port, backlog=4096)
        print(f"sim server on http://127.0.0.1:{self.args.port}/v1", flush=True)
        async with server:
            await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--capacity", type=float, default=12500.0, help="C: output tokens/s shared by all")
    parser.add_argument("--stream_speed", type=float, default=125.0, help="tokens/s one sequence can reach")
    parser.add_argument("--max_running", type=int, default=256, help="sequences decoded at once")
    parser.add_argument("--median", type=float, default=200.0, help="median output tokens")
    parser.add_argument("--sigma", type=float, default=1.0, help="lognormal sigma of output lengths")
    parser.add_argument("--model", default="sim-gpu-8b")
    asyncio.run(SimServer(parser.parse_args()).serve())


if __name__ == "__main__":
    main()
