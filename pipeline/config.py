"""The job configuration: each stage's frozen settings (defined beside the stage) assembled into one PipelineConfig,
loaded from YAML, overridden by flags, recorded in the manifest."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from transforms.balance import BalanceConfig
from transforms.code_classifier import CodeClassifierConfig
from transforms.code_lang import CodeLangConfig
from transforms.decontaminate import DecontamConfig
from transforms.dedup import NearDedupConfig
from transforms.extract_page import ExtractConfig
from transforms.first_pass import FirstPassConfig
from transforms.generate import RolesConfig, SynthConfig
from transforms.lang_id import LangIdConfig
from transforms.quality import QualityConfig
from transforms.read_warc import ReadConfig
from transforms.scrub import ScrubConfig

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


@dataclass(frozen=True)
class OutputConfig:
    """How every job writes: shard counts or sizes, row groups, and whether drops are kept for audit."""

    seeds_num_shards: int = 4
    pairs_num_shards: int = 4
    target_shard_rows: int = 0
    target_shard_bytes: int = 256 * 1024 * 1024
    row_group_bytes: int = 16 * 1024 * 1024
    write_dropped: bool = True


@dataclass(frozen=True)
class DedupConfig:
    """The dedup stages the seeds, synth and dedup jobs share, each switchable."""

    exact: bool = True
    near: NearDedupConfig = field(default_factory=NearDedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    clusters_num_shards: int = 0  # 0: by output.target_shard_bytes / target_shard_rows


@dataclass(frozen=True)
class ResourcesConfig:
    """Per-step resource hints for distributed runners: only the steps named here get them."""

    generation_accelerator: str = ""  # e.g. "type:nvidia-l4;count:1;install-nvidia-driver": the LLM steps only


@dataclass(frozen=True)
class PipelineConfig:
    """Every setting of every job, one section per stage (configs/default.yaml has the same shape)."""

    progress_interval_s: float = 10.0
    read: ReadConfig = field(default_factory=ReadConfig)
    first_pass: FirstPassConfig = field(default_factory=FirstPassConfig)
    code_classifier: CodeClassifierConfig = field(default_factory=CodeClassifierConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    code_lang: CodeLangConfig = field(default_factory=CodeLangConfig)
    lang_id: LangIdConfig = field(default_factory=LangIdConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    scrub: ScrubConfig = field(default_factory=ScrubConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a YAML value into the annotated type, or say which key is wrong."""
    origin = typing.get_origin(hint)
    if hint is Any:  # set by the launcher, not by YAML (LLMRoleConfig.serve)
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(hint, value, prefix=key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        key_hint, value_hint = typing.get_args(hint)
        return {_coerce(k, key_hint, key): _coerce(v, value_hint, f"{key}.{k}") for k, v in value.items()}
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


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`, mapping by mapping, so a partial section keeps the values it does not name."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build a config dataclass from a nested mapping, rejecting unknown keys by name.

    A nested section that names only some keys keeps the field's own defaults for the rest (so
    `roles: {question: {model: m}}` keeps the question role's other defaults).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f" under '{prefix}'" if prefix else ""
        raise ConfigError(f"unknown config key(s){where}: {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    kwargs = {}
    for key, value in data.items():
        f = fields[key]
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict) and f.default_factory is not MISSING:
            value = deep_merge(dataclasses.asdict(f.default_factory()), value)
        kwargs[key] = _coerce(value, hints[key], f"{prefix}.{key}" if prefix else key)
    return cls(**kwargs)


def _tiers_inherit_roles(data: dict[str, Any]) -> None:
    """A tier's roles start from the configured standard roles: a tier names only what it changes."""
    synth = data.get("synth")
    if not isinstance(synth, dict) or not isinstance(synth.get("tiers"), list):
        return
    base = deep_merge(dataclasses.asdict(RolesConfig()), synth.get("roles") or {})
    for tier in synth["tiers"]:
        if isinstance(tier, dict):
            tier["roles"] = deep_merge(base, tier.get("roles") or {})


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
        _tiers_inherit_roles(data)
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
    _tiers_inherit_roles(data)
    return from_dict(PipelineConfig, data)
