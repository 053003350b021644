"""The verification settings (config section `synth.verify`), free of Beam and of the sandbox so config loads fast."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxConfig:
    """Where and how generated tests run: in the worker (bubblewrap) or on a `pipeline sandbox-serve` service."""

    url: str = ""  # empty: a sandbox inside each worker; else the base URL of `python -m pipeline sandbox-serve`
    token_env: str = "SYNCODE_SANDBOX_TOKEN"  # the variable that holds the service's token, never the token
    parallelism: int = 2  # programs run at once per worker
    wall_timeout_s: float = 20.0  # per run, enforced by the parent; generous for a slow shared CPU
    compile_timeout_s: float = 60.0


@dataclass(frozen=True)
class VerifyConfig:
    """Verification as in the paper: generated tests in a sandbox for algorithmic questions, else a best-of-N
    judge; the chosen response per question is written, and (chosen, rejected) pairs go to `preference/`."""

    enabled: bool = False
    n: int = 4  # candidates per question (responses sampled) when verification is on: best-of-4 as in the paper
    tests: bool = True  # algorithmic, testable questions in a sandbox language run generated tests; false: all judged
    judge_seed: str = "judge-v1"  # salts the stable shuffle of the candidates shown to the judge (position bias)
    judge_min_score: int = 0  # a chosen response the judge scores below this is dropped as low_score (0: keep all)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
