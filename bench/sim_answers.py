"""The simulated vLLM server's answers: varied as a model's are, deterministic per request, fitting a JSON schema."""

from __future__ import annotations

import hashlib
import json
import math
import random
from typing import Any

VOCABULARY = tuple("""
function class method variable value list array dictionary map set string integer float boolean return input output
file path line column row table query index key parse format print read write open close loop iterate recursion
stack queue tree graph node edge sort search filter reduce merge split join count sum average maximum minimum
error exception test assert check validate handle retry timeout thread process async await lock cache buffer stream
request response server client socket header body json yaml csv config option flag argument parameter default
module package import library interface type generic template pointer reference memory allocate free copy move
given write implement explain compare describe design refactor optimise measure handle each every first last
number word character byte bit time date user account order item price total result state event message log
""".split())
LANGUAGES = ("Python", "JavaScript", "Java", "C++", "Go", "Rust", "TypeScript", "C#", "Ruby", "Shell")


class Answerer:
    """Deterministic, varied answers: each one seeded by the request and how many times it was seen before."""

    def __init__(self, median: float, sigma: float):
        self.median, self.sigma = median, sigma

    def rng(self, request_key: str, occurrence: int) -> random.Random:
        digest = hashlib.blake2b(f"{request_key}#{occurrence}".encode(), digest_size=8).hexdigest()
        return random.Random(int(digest, 16))

    def length(self, rng: random.Random, max_tokens: int) -> int:
        """A heavy-tailed output length; max_tokens when the draw reaches it (the answer is cut off)."""
        return max(1, min(max_tokens, int(rng.lognormvariate(math.log(self.median), self.sigma))))

    def words(self, rng: random.Random, prompt_words: list[str], n: int) -> str:
        pool = prompt_words or list(VOCABULARY)
        picked = [rng.choice(pool) if rng.random() < 0.4 else rng.choice(VOCABULARY) for _ in range(max(1, n))]
        lines = [" ".join(picked[i:i + 12]) for i in range(0, len(picked), 12)]
        return "\n".join(lines).capitalize()

    def json_answer(self, rng: random.Random, schema: dict[str, Any], prompt_words: list[str], n: int) -> str:
        """A JSON object that fits a flat object schema; its first free string carries about n words."""
        out: dict[str, Any] = {}
        filled = False
        for key, spec in schema.get("properties", {}).items():
            if "enum" in spec:
                out[key] = rng.choice(spec["enum"])
            elif spec.get("type") == "boolean":
                out[key] = rng.random() < 0.5
            elif spec.get("type") == "integer":
                out[key] = rng.randint(spec.get("minimum", 1), spec.get("maximum", 10))
            elif spec.get("type") == "number":
                out[key] = round(rng.uniform(spec.get("minimum", 0), spec.get("maximum", 1)), 3)
            elif not filled:
                text = self.words(rng, prompt_words, max(1, n - 20))
                out[key] = text[: spec.get("maxLength", len(text))].strip() or "?"
                filled = True
            else:
                out[key] = rng.choice(LANGUAGES)[: spec.get("maxLength", 40)]
        return json.dumps(out, ensure_ascii=False)
