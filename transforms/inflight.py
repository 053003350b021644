"""Bounded in-flight requests inside a DoFn: up to K coroutines run on a loop thread and results leave as they finish.

Beam's metrics and outputs belong to the DoFn's own thread, so the loop thread only runs requests; completed
results come back through a queue and are counted and emitted by process() (as they arrive) and finish_bundle()
(the rest). Nothing waits for a whole batch: a slow request holds one slot, not the others.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from apache_beam import pvalue
from apache_beam.utils.windowed_value import WindowedValue


class _ProcessLoop:
    """The one asyncio loop thread of a process, shared by every RequestLoop, so per-endpoint bounds
    (transforms/llm_client.endpoint_slots) hold across the process's DoFn instances and stages."""

    lock = threading.Lock()
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    users = 0

    @classmethod
    def acquire(cls) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
        with cls.lock:
            if cls.loop is None:
                cls.loop = asyncio.new_event_loop()
                cls.thread = threading.Thread(target=cls.loop.run_forever, name="syncode-requests", daemon=True)
                cls.thread.start()
            cls.users += 1
            return cls.loop, cls.thread

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users > 0 or cls.loop is None:
                return
            loop, thread, cls.loop, cls.thread = cls.loop, cls.thread, None, None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


class RequestLoop:
    """Runs submitted coroutines on the process's shared asyncio loop thread and queues (context, result) pairs
    for the DoFn that submitted them."""

    def __init__(self) -> None:
        self.loop, self.thread = _ProcessLoop.acquire()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False

    def run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run a coroutine to completion on the loop and return its result (for setup and teardown)."""
        async def call():
            return await make()
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result()

    def submit(self, context: Any, make: Callable[[], Awaitable[Any]]) -> None:
        async def call():
            try:
                result = await make()
            except BaseException as exc:  # noqa: BLE001 - handed back to the DoFn thread, which routes it
                result = exc
            self.done.put((context, result))
        asyncio.run_coroutine_threadsafe(call(), self.loop)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _ProcessLoop.release()


class InFlight:
    """Keeps at most `limit` requests running; `submit` and `drain` yield the outputs of those that finished."""

    def __init__(self, loop: RequestLoop, limit: int, handle: Callable[[Any, Any], Iterator[Any]]):
        self.loop = loop
        self.limit = max(1, limit)
        self.handle = handle  # (context, result) -> outputs, run on the DoFn thread
        self.running = 0

    def submit(self, context: Any, make: Callable[[], Awaitable[Any]], windowed: WindowedValue) -> Iterator[Any]:
        """Start one request; first emit finished ones, blocking for one only while all slots are taken."""
        while self.running >= self.limit:
            yield from self._finish(*self.loop.done.get())
        self.loop.submit((context, windowed), make)
        self.running += 1
        yield from self.ready()

    def ready(self) -> Iterator[Any]:
        """Outputs of the requests that have finished, without waiting."""
        while True:
            try:
                item = self.loop.done.get_nowait()
            except queue.Empty:
                return
            yield from self._finish(*item)

    def drain(self) -> Iterator[Any]:
        """Wait for every running request and emit its outputs (finish_bundle)."""
        while self.running:
            yield from self._finish(*self.loop.done.get())

    def _finish(self, context_and_window: tuple[Any, WindowedValue], result: Any) -> Iterator[Any]:
        self.running -= 1
        context, windowed = context_and_window
        for out in self.handle(context, result):
            yield in_window(out, windowed)


def in_window(out: Any, windowed: WindowedValue) -> Any:
    """An output placed in its input's window and timestamp, as finish_bundle requires and process allows."""
    if isinstance(out, pvalue.TaggedOutput):
        return pvalue.TaggedOutput(out.tag, windowed.with_value(out.value))
    return windowed.with_value(out)
