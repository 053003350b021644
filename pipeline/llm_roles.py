"""The LLM roles before a graph is built: endpoints from the flags or a vLLM server started for --serve_model, and
each used role's model name fixed, so cache keys name the model that answers."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import logging
import os
import re
import shlex
import urllib.parse
from collections.abc import Callable, Iterator

from apache_beam.options.pipeline_options import (
    DebugOptions,
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)

from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.options import pipeline_command
from pipeline.vllm_server import ServerError, VLLMServer
from transforms.generate import RolesConfig
from transforms.llm_client import LLMRoleConfig, resolve_model
from transforms.worker_server import ServeSpec

_LOG = logging.getLogger("syncode")
# runners whose workers run on this machine, so a server the launcher starts on 127.0.0.1 is theirs too
LOCAL_RUNNERS = frozenset({"", "FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"})


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


def runner_name(beam_argv: list[str]) -> str:
    """The runner the flags name, as its class name ('' when none is named)."""
    runner = PipelineOptions(beam_argv).view_as(StandardOptions).runner or ""
    return str(runner).rsplit(".", 1)[-1]


def is_local_runner(beam_argv: list[str]) -> bool:
    """Whether the workers run in this machine's processes (the local default), sharing its 127.0.0.1."""
    return runner_name(beam_argv) in LOCAL_RUNNERS


def is_loopback(url: str) -> bool:
    """A URL whose host is this machine only: localhost, 127.0.0.0/8, ::1, 0.0.0.0."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def check_remote_endpoints(ns: argparse.Namespace, config: PipelineConfig, beam_argv: list[str]) -> None:
    """On the DataflowRunner a loopback endpoint is each worker's own 127.0.0.1, where nothing listens: every
    request would end as a connection_error dead letter. Say so now (exit 2)."""
    if "Dataflow" not in runner_name(beam_argv):
        return
    configured = [url for _key, role in _used_roles(config, USED_ROLES) for url in role.endpoints]
    bad = [url for url in [*ns.llm_endpoint, *configured] if is_loopback(url)]
    if bad:
        raise UsageError(f"--llm_endpoint {bad[0]} is a loopback address: on the DataflowRunner each worker's "
                         "127.0.0.1 is the worker itself, where no server runs. Pass an address the workers can "
                         "reach, or --serve_model MODEL to start vLLM on every worker")


def served_name(spec: ServeSpec) -> str:
    """The model name the server answers to: --served-model-name in the vLLM arguments, else the model."""
    args = shlex.split(spec.extra_args)
    for i, arg in enumerate(args):
        if arg == "--served-model-name" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--served-model-name="):
            return arg.split("=", 1)[1]
    return spec.model


def with_worker_serve(config: PipelineConfig, spec: ServeSpec) -> PipelineConfig:
    """Every role without endpoints is served by each worker's own vLLM (started in the DoFn's setup)."""
    def fill(_where: str, roles: RolesConfig) -> RolesConfig:
        return dataclasses.replace(roles, **{f.name: dataclasses.replace(
            getattr(roles, f.name), serve=spec, model=getattr(roles, f.name).model or served_name(spec))
            for f in dataclasses.fields(roles) if not getattr(roles, f.name).endpoints})
    return _map_roles(config, fill)


_VCPUS = re.compile(r"-(\d+)(?:-|$)")


def sdk_processes_per_worker(beam_argv: list[str]) -> int:
    """SDK processes on one worker: 1 with no_use_multiple_sdk_containers, else one per vCPU of the machine type
    (Dataflow's default); locally, the FnApiRunner's worker processes."""
    options = PipelineOptions(beam_argv)
    if is_local_runner(beam_argv):
        n = int(options.view_as(DirectOptions).direct_num_workers or 0)
        return n if n > 0 else os.cpu_count() or 1
    if "no_use_multiple_sdk_containers" in (options.view_as(DebugOptions).experiments or []):
        return 1
    match = _VCPUS.search(options.view_as(WorkerOptions).machine_type or "")
    return int(match.group(1)) if match else 1


def worker_count(beam_argv: list[str]) -> int:
    """The most workers the job may run on: --max_num_workers, else --num_workers, else 1 (local)."""
    worker = PipelineOptions(beam_argv).view_as(WorkerOptions)
    return max(1, int(worker.max_num_workers or worker.num_workers or 1))


def inflight_share(total: int, clients: int) -> int:
    """One process's share of an endpoint's bound: `clients` processes together keep at most `total` in flight."""
    return max(1, total // max(1, clients))


def with_inflight_bound(config: PipelineConfig, total: int | None, beam_argv: list[str]) -> PipelineConfig:
    """Split --max_inflight_per_endpoint over the processes that share each endpoint: all processes of all workers
    for a shared fleet, the processes of one VM for its own server (--serve_model on a distributed runner)."""
    if not total:
        return config
    processes = sdk_processes_per_worker(beam_argv)
    workers = 1 if is_local_runner(beam_argv) else worker_count(beam_argv)

    def bound(where: str, roles: RolesConfig) -> RolesConfig:
        filled = {}
        for f in dataclasses.fields(roles):
            role = getattr(roles, f.name)
            clients = processes if role.serve is not None else processes * workers
            filled[f.name] = dataclasses.replace(role, max_in_flight_per_endpoint=inflight_share(total, clients))
        return dataclasses.replace(roles, **filled)
    share = inflight_share(total, processes * workers)
    _LOG.info("at most %d requests in flight per endpoint: %d per process over %d worker(s) x %d process(es)",
              total, share, workers, processes)
    return _map_roles(config, bound)


@contextlib.contextmanager
def llm_config(ns: argparse.Namespace, config: PipelineConfig, beam_argv: list[str]) -> Iterator[PipelineConfig]:
    """The config with every used role's endpoints and model fixed: the flags' endpoints, a server the launcher
    starts for --serve_model on a local runner, or one vLLM per worker VM on any other runner."""
    check_remote_endpoints(ns, config, beam_argv)
    total = getattr(ns, "max_inflight_per_endpoint", None)
    if ns.serve_model and not is_local_runner(beam_argv):
        spec = ServeSpec(ns.serve_model, ns.vllm_python, ns.vllm_args, ready_timeout_s=ns.serve_timeout_s)
        _LOG.info("--serve_model on %s: every worker starts its own vLLM for %s in the generation steps' setup",
                  runner_name(beam_argv), ns.serve_model)
        yield with_inflight_bound(with_models(with_worker_serve(config, spec), used_roles(config)), total, beam_argv)
        return
    with llm_endpoints(ns) as endpoints:
        yield with_inflight_bound(with_models(with_endpoints(config, endpoints), used_roles(config)), total, beam_argv)
