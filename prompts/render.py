"""Versioned prompt templates: one YAML file per prompt, rendered with $-placeholders so code braces stay literal."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import yaml

PROMPT_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PROMPT_DIR / "templates"
TAXONOMY_FILE = PROMPT_DIR / "taxonomy.yaml"
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese (简体中文)"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


@dataclass(frozen=True)
class Taxonomy:
    """Task categories and their subcategories; subcategory names are unique across categories."""

    version: str
    categories: dict[str, tuple[str, ...]] = field(hash=False)

    @property
    def subcategories(self) -> dict[str, str]:
        """Subcategory -> its category."""
        return {sub: cat for cat, subs in self.categories.items() for sub in subs}

    def render(self) -> str:
        return "\n".join(f"- {cat}: {', '.join(subs)}" for cat, subs in self.categories.items())


@cache
def load_taxonomy(path: str | None = None) -> Taxonomy:
    """Read prompts/taxonomy.yaml (or another file with the same shape)."""
    data = yaml.safe_load(Path(path or TAXONOMY_FILE).read_text())
    categories = {str(cat): tuple(str(s) for s in subs) for cat, subs in data["categories"].items()}
    subs = [s for group in categories.values() for s in group]
    if len(subs) != len(set(subs)):
        raise ValueError(f"taxonomy {path or TAXONOMY_FILE}: subcategory names must be unique")
    return Taxonomy(version=str(data["version"]), categories=categories)


@dataclass(frozen=True)
class Prompt:
    """A chat prompt with a name and version that every output row records, and an optional JSON schema."""

    name: str
    version: str
    system: str
    user: str
    schema: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def tag(self) -> str:
        return f"{self.name}-{self.version}"

    def messages(self, **values: str) -> list[dict[str, str]]:
        """The chat messages with placeholders filled; a missing value is an error, not a silent blank."""
        return [{"role": "system", "content": self.system.strip()},
                {"role": "user", "content": Template(self.user).substitute(**values).strip()}]

    def response_format(self) -> dict[str, Any] | None:
        """The OpenAI `response_format` that asks the server for the schema (vLLM: guided decoding)."""
        if self.schema is None:
            return None
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.schema, "strict": True}}


def _fill_enums(schema: Any, taxonomy: Taxonomy) -> Any:
    """Replace `$categories` and `$subcategories` in a schema with the taxonomy's names."""
    lists = {"$categories": list(taxonomy.categories), "$subcategories": list(taxonomy.subcategories)}
    if isinstance(schema, dict):
        return {k: _fill_enums(v, taxonomy) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_fill_enums(v, taxonomy) for v in schema]
    return lists.get(schema, schema) if isinstance(schema, str) else schema


@cache
def load_prompt(name: str, version: str = "v1") -> Prompt:
    """Load prompts/templates/NAME-VERSION.yaml; a missing file names what exists."""
    path = TEMPLATE_DIR / f"{name}-{version}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in TEMPLATE_DIR.glob(f"{name}-*.yaml"))
        raise FileNotFoundError(f"no prompt template {path.name}; known versions of {name}: {', '.join(known)}")
    data = yaml.safe_load(path.read_text())
    schema = data.get("schema")
    if schema is not None:
        schema = _fill_enums(copy.deepcopy(schema), load_taxonomy())
    return Prompt(name=data["name"], version=data["version"], system=data["system"], user=data["user"],
                  schema=schema)


def parse_json_reply(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply, tolerating code fences, prose around it and raw control characters."""
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return None
    body = body[start:end + 1]
    for candidate in (body, _CONTROL.sub(" ", body)):
        try:
            value = json.loads(candidate, strict=False)  # strict=False: guided decoders let raw newlines through
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None


def schema_problem(value: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Why a parsed object does not fit a flat object schema (required keys, types, enums), or None."""
    types = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "object": dict, "array": list}
    for key in schema.get("required", []):
        if key not in value:
            return f"missing key {key!r}"
    for key, spec in schema.get("properties", {}).items():
        if key not in value:
            continue
        item = value[key]
        expected = types.get(spec.get("type"))
        if expected and (not isinstance(item, expected) or (spec.get("type") == "integer" and isinstance(item, bool))):
            return f"{key}: expected {spec.get('type')}, got {type(item).__name__}"
        if "enum" in spec and item not in spec["enum"]:
            return f"{key}: {str(item)[:60]!r} is not one of the allowed values"
        if isinstance(item, int | float) and not isinstance(item, bool):
            if ("minimum" in spec and item < spec["minimum"]) or ("maximum" in spec and item > spec["maximum"]):
                return f"{key}: {item} is out of range"
    return None
