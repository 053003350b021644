"""GenerateQuestions and GenerateResponses: the spine's LLM steps over an OpenAI-compatible endpoint (vLLM)."""

from __future__ import annotations

import os
from typing import Any

from pipeline.config import LLMRoleConfig
from pipeline.records import Pair, Question, Seed, stable_id
from prompts.render import load_prompt
from transforms.stage import Drop, Stage, StageDoFn


def completion_decision(choice: Any) -> Drop | None:
    """A chat choice we cannot use: cut off by max_tokens, or empty."""
    if getattr(choice, "finish_reason", None) == "length":
        return Drop("truncated")
    content = getattr(getattr(choice, "message", None), "content", None)
    if not content or not content.strip():
        return Drop("empty_output")
    return None


class _ChatStageFn(StageDoFn):
    """Holds one OpenAI client per worker, made in setup(), and turns failures into counted drops."""

    def __init__(self, stage: str, role: LLMRoleConfig, prompt_name: str, progress_interval_s: float):
        super().__init__(stage, progress_interval_s)
        self.role = role
        self.prompt_name = prompt_name

    def setup(self) -> None:
        super().setup()
        import openai

        self._openai = openai
        self.prompt = load_prompt(self.prompt_name)
        self.client = openai.OpenAI(base_url=self.role.endpoints[0], api_key=os.environ.get(self.role.api_key_env)
                                    or "EMPTY", timeout=self.role.timeout_s, max_retries=self.role.max_retries)
        self.model = self.role.model or self.client.models.list().data[0].id

    def chat(self, **values: str):
        """One completion, or a Drop that names why none could be had."""
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=self.prompt.messages(**values), temperature=self.role.temperature,
                top_p=self.role.top_p, max_tokens=self.role.max_tokens)
        except self._openai.APIError as exc:
            return Drop("llm_error", f"{type(exc).__name__}: {exc}"[:500])
        if not reply.choices:
            return Drop("empty_output")
        drop = completion_decision(reply.choices[0])
        if drop:
            return drop
        usage = reply.usage
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        self.counters.count("tokens_prompt", prompt_tokens)
        self.counters.count("tokens_completion", completion_tokens)
        return reply.choices[0].message.content.strip(), prompt_tokens, completion_tokens


class GenerateQuestionsFn(_ChatStageFn):
    def __init__(self, role: LLMRoleConfig, max_seed_chars: int, progress_interval_s: float = 10.0):
        super().__init__("GenerateQuestions", role, "question", progress_interval_s)
        self.max_seed_chars = max_seed_chars

    def decide(self, seed: Seed) -> Question | Drop:
        result = self.chat(title=seed.title, text=seed.text[: self.max_seed_chars])
        if isinstance(result, Drop):
            return result
        text, prompt_tokens, completion_tokens = result
        return Question(id=stable_id(seed.id, self.prompt.tag), seed_id=seed.id, url=seed.url, instruction=text,
                        model=self.model, prompt_version=self.prompt.tag, prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens)


class GenerateResponsesFn(_ChatStageFn):
    def __init__(self, role: LLMRoleConfig, progress_interval_s: float = 10.0):
        super().__init__("GenerateResponses", role, "response", progress_interval_s)

    def decide(self, question: Question) -> Pair | Drop:
        result = self.chat(instruction=question.instruction)
        if isinstance(result, Drop):
            return result
        text, prompt_tokens, completion_tokens = result
        return Pair(id=question.id, seed_id=question.seed_id, url=question.url, instruction=question.instruction,
                    response=text, question_model=question.model, response_model=self.model,
                    prompt_version=f"{question.prompt_version}+{self.prompt.tag}",
                    prompt_tokens=question.prompt_tokens + prompt_tokens,
                    completion_tokens=question.completion_tokens + completion_tokens)


def GenerateQuestions(role: LLMRoleConfig, max_seed_chars: int, progress_interval_s: float = 10.0) -> Stage:  # noqa: N802
    """Seeds in, Questions out, with a `dropped` output."""
    return Stage(GenerateQuestionsFn(role, max_seed_chars, progress_interval_s))


def GenerateResponses(role: LLMRoleConfig, progress_interval_s: float = 10.0) -> Stage:  # noqa: N802
    """Questions in, Pairs out, with a `dropped` output."""
    return Stage(GenerateResponsesFn(role, progress_interval_s))
