"""syncode jobs: options, config, graph assembly, CLI, manifest and funnel report."""

__version__ = "0.1.0"
