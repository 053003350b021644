"""The job configuration: frozen dataclasses loaded from YAML, overridden by flags, recorded in the manifest."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, field
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
class CodeClassifierConfig:
    model_path: str = "models/code_classifier.ftz"
    threshold: float = 0.5
    max_chars: int = 30000


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
    max_blocks_per_page: int = 8
    stop_when_settled: bool = True
    onnx_threads: int = 1


@dataclass(frozen=True)
class LangIdConfig:
    model_path: str = "models/lid.176.ftz"
    languages: tuple[str, ...] = ("en", "zh")
    min_score: float = 0.5
    min_score_declared: float = 0.2
    max_chars: int = 5000


@dataclass(frozen=True)
class QualityConfig:
    min_prose_words: int = 40
    max_code_fraction: float = 0.95
    min_code_lines: int = 1
    max_dup_line_fraction: float = 0.3
    max_dup_code_block_fraction: float = 0.5
    max_top_2gram_fraction: float = 0.2
    max_boilerplate_fraction: float = 0.3
    max_line_chars: int = 3000


@dataclass(frozen=True)
class ScrubConfig:
    secrets: bool = True
    emails: bool = True
    ip_addresses: bool = True
    keep_private_ips: bool = True


@dataclass(frozen=True)
class BalanceConfig:
    languages: tuple[str, ...] = ()
    caps: dict[str, int] = field(default_factory=dict)
    default_cap: int = 0
    max_share: float = 1.0
    salt: str = "balance-v1"


@dataclass(frozen=True)
class OutputConfig:
    seeds_num_shards: int = 4
    pairs_num_shards: int = 4
    target_shard_rows: int = 0
    target_shard_bytes: int = 256 * 1024 * 1024
    row_group_bytes: int = 16 * 1024 * 1024
    write_dropped: bool = True


@dataclass(frozen=True)
class NearDedupConfig:
    enabled: bool = True
    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    bands: int = 0
    rows: int = 0
    min_candidate_recall: float = 0.995
    seed: int = 1
    keep: str = "longest"
    per_component: str = "cover"
    max_bucket_size: int = 64
    cc_max_rounds: int = 8


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True
    ngram: int = 10
    benchmarks: tuple[str, ...] = ("humaneval", "mbpp")
    extra_jsonl: tuple[str, ...] = ()


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: NearDedupConfig = field(default_factory=NearDedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    clusters_num_shards: int = 1


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


@dataclass(frozen=True)
class RolesConfig:
    question: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(prompt_version="v2", max_tokens=768))
    response: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(
        prompt_version="v2", max_tokens=2048, timeout_s=300.0))
    tests: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(temperature=0.2, max_tokens=1536,
                                                                       timeout_s=300.0))
    judge: LLMRoleConfig = field(default_factory=lambda: LLMRoleConfig(temperature=0.0, top_p=1.0, max_tokens=512))


@dataclass(frozen=True)
class TierConfig:
    """A generation tier: a share of seeds (by stable hash) answered by other models, written as its own split."""

    name: str = "hq"
    share: float = 0.05
    roles: RolesConfig = field(default_factory=RolesConfig)


@dataclass(frozen=True)
class SynthConfig:
    max_seed_chars: int = 6000
    languages: tuple[str, ...] = ("en", "zh")  # natural language of each question, chosen per seed by a stable hash
    language_weights: tuple[float, ...] = (0.5, 0.5)
    responses_per_question: int = 1  # N response samples per question
    cache: bool = True  # reuse completions stored under OUT/cache by (id, role, prompt version, model, sampling)
    cache_flush_entries: int = 1000  # a worker writes its new cache entries at least this often, and per bundle
    roles: RolesConfig = field(default_factory=RolesConfig)
    tiers: tuple[TierConfig, ...] = ()


@dataclass(frozen=True)
class PipelineConfig:
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


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a YAML value into the annotated type, or say which key is wrong."""
    origin = typing.get_origin(hint)
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
