"""The sandbox's limit flags, shared by `execute` and `sandbox-serve`, and the settings they make."""

from __future__ import annotations

import argparse

from sandbox import LEVELS, SandboxSettings


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    d = SandboxSettings()
    parser.add_argument("--parallelism", type=int, default=d.parallelism, help="Samples run at once (one uid each).")
    parser.add_argument("--wall_timeout_s", type=float, default=d.wall_timeout_s,
                        help="Wall-clock limit of a program's run with its tests.")
    parser.add_argument("--compile_timeout_s", type=float, default=d.compile_timeout_s,
                        help="Wall-clock limit of compiling (C, C++, Java, Go, Rust, TypeScript).")
    parser.add_argument("--output_limit_bytes", type=int, default=d.output_limit_bytes,
                        help="stdout + stderr cap; past it the run is killed: output_limit.")
    parser.add_argument("--memory_mb", type=int, default=d.memory_mb,
                        help="Memory limit of a run (cgroup) for languages without their own default "
                        f"({', '.join(f'{k}={v}' for k, v in sorted(d.memory_mb_by_language.items()))}).")
    parser.add_argument("--tmpfs_mb", type=int, default=d.tmpfs_mb, help="Size of each run's private /tmp.")
    parser.add_argument("--max_processes", type=int, default=d.max_processes,
                        help="Processes and threads of a run; past it: failed.")
    parser.add_argument("--sandbox_levels", default=",".join(d.levels),
                        help=f"The isolation levels allowed, strongest first, comma-separated (of {', '.join(LEVELS)}"
                        "); when none starts nothing runs.")


def settings_from_flags(ns: argparse.Namespace) -> SandboxSettings:
    levels = tuple(x.strip() for x in ns.sandbox_levels.split(",") if x.strip())
    return SandboxSettings(parallelism=ns.parallelism, wall_timeout_s=ns.wall_timeout_s,
                           compile_timeout_s=ns.compile_timeout_s, output_limit_bytes=ns.output_limit_bytes,
                           memory_mb=ns.memory_mb, tmpfs_mb=ns.tmpfs_mb, max_processes=ns.max_processes,
                           levels=levels)
