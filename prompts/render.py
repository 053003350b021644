"""Versioned prompt templates: one YAML file per prompt, rendered with $-placeholders so code braces stay literal."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Prompt:
    """A chat prompt with a name and version that every output row records."""

    name: str
    version: str
    system: str
    user: str

    @property
    def tag(self) -> str:
        return f"{self.name}-{self.version}"

    def messages(self, **values: str) -> list[dict[str, str]]:
        """The chat messages with placeholders filled; a missing value is an error, not a silent blank."""
        return [{"role": "system", "content": self.system.strip()},
                {"role": "user", "content": Template(self.user).substitute(**values).strip()}]


@cache
def load_prompt(name: str, version: str = "v1") -> Prompt:
    """Load prompts/templates/NAME-VERSION.yaml."""
    path = TEMPLATE_DIR / f"{name}-{version}.yaml"
    data = yaml.safe_load(path.read_text())
    return Prompt(name=data["name"], version=data["version"], system=data["system"], user=data["user"])
