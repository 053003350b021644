"""Run model-written programs with their tests under bubblewrap; imports nothing else of syncode, nor Beam."""

from sandbox.remote import RemoteSandbox
from sandbox.runner import Sandbox
from sandbox.samples import LEVELS, STATUSES, Outcome, Sample, SandboxSettings, SandboxUnavailable

__all__ = ["LEVELS", "STATUSES", "Outcome", "RemoteSandbox", "Sample", "Sandbox", "SandboxSettings",
           "SandboxUnavailable"]
