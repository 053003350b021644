"""The LLM roles before a graph is built: endpoints from the flags or a vLLM server started for --serve_model, and
each used role's model name fixed, so cache keys name the model that answers."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
from collections.abc import Callable

from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.options import pipeline_command
from pipeline.vllm_server import ServerError, VLLMServer
from transforms.generate import RolesConfig
from transforms.llm_client import LLMRoleConfig, resolve_model


def synth_instructions(output: str) -> str:
    """What to run when the synth job has no LLM: the command with a server, or with --serve_model."""
    run = f"{pipeline_command()} synth --output {shlex.quote(output)}"
    return ("The synth job needs an LLM. Run it on these seeds with a running OpenAI-compatible server:\n"
            f"  {run} --llm_endpoint http://127.0.0.1:8000/v1\n"
            "or let it start vLLM itself:\n"
            f"  {run} --serve_model MODEL_DIR_OR_NAME")


def _map_roles(config: PipelineConfig, fn: Callable[[str, RolesConfig], RolesConfig]) -> PipelineConfig:
    """Apply `fn` to the standard roles and to every tier's roles."""
    synth = config.synth
    tiers = tuple(dataclasses.replace(t, roles=fn(f"synth.tiers.{t.name}.roles", t.roles)) for t in synth.tiers)
    synth = dataclasses.replace(synth, roles=fn("synth.roles", synth.roles), tiers=tiers)
    return dataclasses.replace(config, synth=synth)


def with_endpoints(config: PipelineConfig, endpoints: list[str]) -> PipelineConfig:
    """Give every LLM role without endpoints of its own the endpoints from the command line."""
    def fill(_where: str, roles: RolesConfig) -> RolesConfig:
        return dataclasses.replace(roles, **{f.name: dataclasses.replace(getattr(roles, f.name),
                                                                         endpoints=tuple(endpoints))
                                             for f in dataclasses.fields(roles)
                                             if not getattr(roles, f.name).endpoints})
    return _map_roles(config, fill)


# The roles the synth graph always calls; `tests` and `judge` join when verification is on.
USED_ROLES: tuple[str, ...] = ("question", "response")
VERIFY_ROLES: tuple[str, ...] = ("tests", "judge")


def used_roles(config: PipelineConfig) -> tuple[str, ...]:
    """The roles the synth graph calls with this config."""
    return USED_ROLES + (VERIFY_ROLES if config.synth.verify.enabled else ())


def with_models(config: PipelineConfig, used: tuple[str, ...] = USED_ROLES) -> PipelineConfig:
    """Fix each used role's model name before the graph is built, so cache keys name the model that answers."""
    def resolve(where: str, roles: RolesConfig) -> RolesConfig:
        filled = {}
        for name in used:
            role = getattr(roles, name)
            try:
                filled[name] = dataclasses.replace(role, model=resolve_model(role))
            except RuntimeError as exc:
                raise UsageError(f"{where}.{name}: {exc}") from exc
        return dataclasses.replace(roles, **filled)
    return _map_roles(config, resolve)


def generation_summary(config: PipelineConfig) -> dict:
    """Models and prompt versions per tier and role, for the manifest and the dataset card."""
    def roles(r: RolesConfig) -> dict:
        return {name: {"model": getattr(r, name).model, "prompt_version": f"{name}-{getattr(r, name).prompt_version}"}
                for name in used_roles(config)}
    return {"standard": {"share": 1.0 - sum(t.share for t in config.synth.tiers), "roles": roles(config.synth.roles)},
            **{t.name: {"share": t.share, "roles": roles(t.roles)} for t in config.synth.tiers}}


def _used_roles(config: PipelineConfig, used: tuple[str, ...]) -> list[tuple[str, LLMRoleConfig]]:
    """(config key, role) of each used role, standard and per tier."""
    all_roles = [("synth.roles", config.synth.roles),
                 *((f"synth.tiers.{t.name}.roles", t.roles) for t in config.synth.tiers)]
    return [(f"{where}.{name}", getattr(roles, name)) for where, roles in all_roles for name in used]


def has_llm(ns: argparse.Namespace, config: PipelineConfig, used: tuple[str, ...] = USED_ROLES) -> bool:
    """True when every role the job uses will have an endpoint (config, --llm_endpoint or --serve_model), False
    when none has one; when only some have one, a UsageError that names the roles left without."""
    if ns.llm_endpoint or ns.serve_model:
        return True
    roles = _used_roles(config, used)
    missing = [key for key, role in roles if not role.endpoints]
    if missing and len(missing) < len(roles):
        raise UsageError(f"{', '.join(missing)}: no endpoints, though other roles have some; set `endpoints` "
                         "there, or pass --llm_endpoint URL (it fills every role without endpoints)")
    return not missing


@contextlib.contextmanager
def llm_endpoints(ns: argparse.Namespace):
    """The endpoints named on the command line, or one vLLM server started for --serve_model."""
    if ns.serve_model:
        try:
            server = VLLMServer(ns.serve_model, ns.vllm_python, ns.vllm_args, ready_timeout_s=ns.serve_timeout_s)
            url = server.__enter__()
        except ServerError as exc:
            raise UsageError(f"--serve_model {ns.serve_model}: {exc}") from exc
        try:
            yield [url]
        finally:
            server.__exit__(None, None, None)
    else:
        yield list(ns.llm_endpoint)
