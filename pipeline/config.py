"""The job configuration: frozen dataclasses loaded from YAML, overridden by flags, recorded in the manifest."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class ConfigError(ValueError):
    """A config file or override that cannot be used, with the key that is wrong."""


@dataclass(frozen=True)
class ReadConfig:
    max_payload_bytes: int = 5_000_000
    html_sniff_bytes: int = 1024


@dataclass(frozen=True)
class FirstPassConfig:
    min_text_chars: int = 100


@dataclass(frozen=True)
class ExtractConfig:
    min_text_chars: int = 200
    include_comments: bool = True
    favor_recall: bool = False
    tidy_markdown: bool = True
    timeout_s: float = 10.0


@dataclass(frozen=True)
class CodeLangConfig:
    min_score: float = 0.2
    min_block_chars: int = 20


@dataclass(frozen=True)
class OutputConfig:
    seeds_num_shards: int = 4
    pairs_num_shards: int = 4
    row_group_bytes: int = 16 * 1024 * 1024
    write_dropped: bool = True


@dataclass(frozen=True)
class LLMRoleConfig:
    model: str = ""
    endpoints: tuple[str, ...] = ()
    api_key_env: str = "SYNCODE_API_KEY"
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    timeout_s: float = 120.0
    max_retries: int = 4


@dataclass(frozen=True)
class RolesConfig:
    question: LLMRoleConfig = field(default_factory=LLMRoleConfig)
    response: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(max_tokens=1024, timeout_s=300.0))


@dataclass(frozen=True)
class SynthConfig:
    max_seed_chars: int = 6000
    roles: RolesConfig = field(default_factory=RolesConfig)


@dataclass(frozen=True)
class PipelineConfig:
    progress_interval_s: float = 10.0
    read: ReadConfig = field(default_factory=ReadConfig)
    first_pass: FirstPassConfig = field(default_factory=FirstPassConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    code_lang: CodeLangConfig = field(default_factory=CodeLangConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a YAML value into the annotated type, or say which key is wrong."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(hint, value, prefix=key)
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(v, item_hint, key) for v in items)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _coerce(value, args[0], key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build a config dataclass from a nested mapping, rejecting unknown keys by name."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f" under '{prefix}'" if prefix else ""
        raise ConfigError(f"unknown config key(s){where}: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain data, for the manifest and for --set round trips."""
    return dataclasses.asdict(config)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{part}' is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split a `--set key.path=value` override; the value is read as YAML so numbers and lists work."""
    if "=" not in text:
        raise ConfigError(f"--set expects key.path=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else ""


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read the YAML config (the bundled default when no path is given) and apply dotted-key overrides."""
    if path is None and not DEFAULT_CONFIG.exists():
        data: dict[str, Any] = {}  # installed without the repo's configs/: the dataclass defaults mirror it
        for key, value in (overrides or {}).items():
            _set_path(data, key, value)
        return from_dict(PipelineConfig, data)
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    for key, value in (overrides or {}).items():
        _set_path(data, key, value)
    return from_dict(PipelineConfig, data)
