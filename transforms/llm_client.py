"""One role's OpenAI-compatible endpoints: the openai client retries each, we fail over between them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any, NamedTuple

RETRY_ELSEWHERE = frozenset({"rate_limited", "server_error", "timeout", "connection_error", "bad_response"})


@dataclass(frozen=True)
class LLMRoleConfig:
    """One LLM role: where it is served, which model, how it samples, how hard the client tries."""

    model: str = ""  # empty: the first model the role's first endpoint lists
    endpoints: tuple[str, ...] = ()
    api_key_env: str = "SYNCODE_API_KEY"  # the name of the variable that holds the key, never the key
    prompt_version: str = "v1"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    timeout_s: float = 120.0
    max_retries: int = 4  # per endpoint, by the openai client (429, 5xx, timeouts, connection errors)
    max_in_flight: int = 256  # requests in flight per worker: vLLM batches continuously and needs many
    guided_json: bool = True  # ask for the prompt's JSON schema through response_format
    # requests in flight per endpoint from one process, all its DoFn instances and stages together (0: no bound
    # beyond max_in_flight); the launcher sets it to a share of --max_inflight_per_endpoint (pipeline/llm_roles.py)
    max_in_flight_per_endpoint: int = 0
    serve: Any = None  # a ServeSpec (transforms/worker_server.py): each worker VM serves the model itself


class ChatResult(NamedTuple):
    """A completion as the server returned it; decisions about its content come later."""

    text: str
    finish_reason: str
    model: str
    prompt_tokens: int
    completion_tokens: int


class ChatFailure(NamedTuple):
    """A request that got no completion from any endpoint, with the last reason and how many tries it took."""

    reason: str
    detail: str
    attempts: int


def failure_reason(exc: BaseException) -> str:
    """Name an exception from a chat request; reasons in RETRY_ELSEWHERE are worth another endpoint."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.InternalServerError):
        return "server_error"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 or exc.status_code in (408, 409) else "bad_request"
    if isinstance(exc, openai.APIResponseValidationError | ValueError | TypeError | KeyError | AttributeError):
        return "bad_response"  # a 200 whose body is not the JSON an OpenAI server sends
    return "client_error"


def api_key(role: LLMRoleConfig) -> str:
    """The role's key from its environment variable; servers without auth accept any string."""
    return os.environ.get(role.api_key_env) or "EMPTY"


def resolve_model(role: LLMRoleConfig, timeout_s: float = 10.0) -> str:
    """The role's model, or the first model its first answering endpoint lists when none is configured."""
    if role.model:
        return role.model
    errors = []
    for endpoint in role.endpoints:
        request = urllib.request.Request(endpoint.rstrip("/") + "/models",
                                         headers={"Authorization": f"Bearer {api_key(role)}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                return json.loads(resp.read())["data"][0]["id"]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            errors.append(f"{endpoint}: {type(exc).__name__}: {exc}")
    raise RuntimeError("no model configured and no endpoint listed one (set the role's model): " + "; ".join(errors))


_SLOTS: dict[tuple[int, str], asyncio.Semaphore] = {}
_SLOTS_LOCK = threading.Lock()


def endpoint_slots(url: str, limit: int) -> asyncio.Semaphore | None:
    """The process-wide bound on requests in flight to `url` (one per event loop: transforms/inflight.py shares one
    loop per process), so every DoFn instance and stage of the process draws from the same `limit`."""
    if limit <= 0:
        return None
    key = (id(asyncio.get_running_loop()), url.rstrip("/"))
    with _SLOTS_LOCK:
        slots = _SLOTS.get(key)
        if slots is None:
            slots = _SLOTS[key] = asyncio.Semaphore(limit)
        return slots


class EndpointPool:
    """Async clients for one role's endpoints; each request starts on one and fails over to the others in turn."""

    def __init__(self, role: LLMRoleConfig, model: str):
        import openai

        if not role.endpoints:
            raise ValueError("an LLM role has no endpoints: set them in the config or pass --llm_endpoint")
        self.role = role
        self.model = model
        self.clients = [openai.AsyncOpenAI(base_url=url, api_key=api_key(role), timeout=role.timeout_s,
                                           max_retries=role.max_retries) for url in role.endpoints]
        self.attempts = max(len(self.clients), 2)  # one endpoint still gets a second try for a garbled answer
        self.slots = [None] * len(self.clients)  # filled on the loop, where the semaphores belong

    def request_args(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> dict[str, Any]:
        args = {"model": self.model, "messages": messages, "temperature": self.role.temperature,
                "top_p": self.role.top_p, "max_tokens": self.role.max_tokens}
        if response_format is not None and self.role.guided_json:
            args["response_format"] = response_format
        return args

    async def complete(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None = None,
                       start: int = 0) -> ChatResult | ChatFailure:
        """One chat completion: the openai client retries 429/5xx/timeouts with backoff, then the next endpoint."""
        args = self.request_args(messages, response_format)
        reason, detail = "client_error", ""
        for attempt in range(self.attempts):
            at = (start + attempt) % len(self.clients)
            client = self.clients[at]
            if self.slots[at] is None and self.role.max_in_flight_per_endpoint > 0:
                self.slots[at] = endpoint_slots(self.role.endpoints[at], self.role.max_in_flight_per_endpoint)
            try:
                async with self.slots[at] or contextlib.nullcontext():
                    reply = await client.chat.completions.create(**args)
                return to_result(reply, self.model)
            except Exception as exc:  # noqa: BLE001 - every failure is named and routed, never lost
                reason, detail = failure_reason(exc), f"{client.base_url}: {type(exc).__name__}: {exc}"[:1000]
                if reason not in RETRY_ELSEWHERE:
                    return ChatFailure(reason, detail, attempt + 1)
        return ChatFailure(reason, detail, self.attempts)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def to_result(reply: Any, model: str) -> ChatResult:
    """Read text, finish reason and token usage from a reply; a reply without choices is a garbled answer."""
    if not reply.choices:
        raise ValueError("reply has no choices")
    choice = reply.choices[0]
    usage = reply.usage
    return ChatResult(text=(choice.message.content or "") if choice.message else "",
                      finish_reason=str(choice.finish_reason or ""), model=str(reply.model or model),
                      prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                      completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0))
