"""The endpoint pool against the fault server: retries, failover, and a named reason for what still fails."""

from __future__ import annotations

import asyncio

import pytest

from tests.fault_server import FaultServer
from transforms.llm_client import ChatFailure, ChatResult, EndpointPool, LLMRoleConfig, resolve_model

MESSAGES = [{"role": "user", "content": "hello"}]


def complete(role: LLMRoleConfig, content: str = "hello", start: int = 0):
    async def run():
        pool = EndpointPool(role, "fault-model")
        try:
            return await pool.complete([{"role": "user", "content": content}], None, start=start)
        finally:
            await pool.close()
    return asyncio.run(run())


def role_for(*urls: str, **kw) -> LLMRoleConfig:
    return LLMRoleConfig(endpoints=tuple(urls), max_retries=1, timeout_s=0.5, **kw)


def test_fails_over_to_the_next_endpoint():
    with FaultServer(fail_all=503) as bad, FaultServer() as good:
        result = complete(role_for(bad.url, good.url))
    assert isinstance(result, ChatResult) and result.text.startswith("```python")
    assert bad.requests == 2  # the first try and the openai client's one retry
    assert good.requests == 1
    assert (result.prompt_tokens, result.completion_tokens) == (10, 6)


@pytest.mark.parametrize("fault,reason", [("429", "rate_limited"), ("503", "server_error"), ("500", "server_error"),
                                          ("slow", "timeout"), ("reset", "connection_error"),
                                          ("badjson", "bad_response")])
def test_a_request_that_keeps_failing_names_its_reason(fault, reason):
    with FaultServer() as server:
        result = complete(role_for(server.url), f"[[q=ok r={fault}-always]]")
    assert isinstance(result, ChatFailure)
    assert result.reason == reason
    assert result.attempts == 2  # one endpoint still gets a second round


@pytest.mark.parametrize("fault", ["429", "503", "slow", "reset", "badjson"])
def test_a_transient_fault_is_retried(fault):
    with FaultServer() as server:
        result = complete(role_for(server.url), f"[[q=ok r={fault}-once]]")
    assert isinstance(result, ChatResult)


def test_resolve_model_asks_the_endpoint_when_none_is_configured():
    with FaultServer() as server:
        assert resolve_model(LLMRoleConfig(endpoints=(server.url,))) == "fault-model"
    assert resolve_model(LLMRoleConfig(model="given")) == "given"
    with pytest.raises(RuntimeError, match="no model configured"):
        resolve_model(LLMRoleConfig(endpoints=("http://127.0.0.1:9/v1",)), timeout_s=0.5)


def test_the_per_endpoint_bound_holds_across_pools_and_request_loops_of_one_process():
    from transforms.inflight import RequestLoop

    with FaultServer(delay_s=0.2) as server:
        role = LLMRoleConfig(endpoints=(server.url,), max_retries=1, timeout_s=10, max_in_flight_per_endpoint=3)
        loops = [RequestLoop(), RequestLoop()]  # two DoFn instances: one process-wide loop underneath
        assert loops[0].loop is loops[1].loop
        pools = [loop.run(lambda: _pool(role)) for loop in loops]
        for i in range(16):
            loops[i % 2].submit(i, lambda p=pools[i % 2]: p.complete(MESSAGES))
        results = [loops[i % 2].done.get(timeout=30)[1] for i in range(16)]
        for loop, pool in zip(loops, pools, strict=True):
            loop.run(pool.close)
            loop.close()
    assert all(isinstance(r, ChatResult) for r in results)
    assert server.requests == 16 and server.max_running == 3  # 2 pools x 8 requests, never more than 3 at once


async def _pool(role: LLMRoleConfig) -> EndpointPool:
    return EndpointPool(role, "fault-model")
