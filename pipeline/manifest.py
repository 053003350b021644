"""OUT/manifest.json: what ran, with which config and versions, what each stage kept, and a checksum per shard."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline.funnel import StageCounts

MANIFEST_NAME = "manifest.json"
TRACKED_PACKAGES = ("syncode", "apache-beam", "pyarrow", "warcio", "trafilatura", "fasttext-numpy2", "datasketch",
                    "openai", "magika", "numpy")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages whose behaviour shapes the output."""
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def code_revision() -> str | None:
    """The git commit of the code that ran, when it runs from a checkout."""
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with FileSystems.open(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rows(path: str) -> int:
    with FileSystems.open(path) as fh:
        return pq.ParquetFile(fh).metadata.num_rows


def shard_paths(directory: str, prefix: str = "train") -> list[str]:
    """The shards in a directory, in name order."""
    pattern = directory.rstrip("/") + f"/{prefix}-*.parquet"
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def remove_stale_shards(directory: str, keep: list[str], prefix: str = "train") -> list[str]:
    """Delete shards of an earlier run that the current run did not write, so readers see one consistent set."""
    pattern = directory.rstrip("/") + f"/{prefix}-*.parquet"
    stale = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list if m.path not in set(keep)]
    if stale:
        FileSystems.delete(stale)
    return stale


def describe_shards(directory: str, root: str) -> list[dict[str, Any]]:
    """Each shard's path relative to OUT, its row count, size and sha256."""
    out = []
    for path in shard_paths(directory):
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
        out.append({"path": path[len(root.rstrip("/")) + 1:] if path.startswith(root) else path,
                    "rows": _rows(path), "bytes": size, "sha256": _sha256(path)})
    return out


def read_manifest(output: str) -> dict[str, Any]:
    path = output.rstrip("/") + "/" + MANIFEST_NAME
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def write_manifest(output: str, job: str, config: dict[str, Any], funnel: list[StageCounts],
                   outputs: dict[str, list[dict[str, Any]]], tokens: dict[str, int],
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge this job's part into OUT/manifest.json, so seeds and synth runs into one OUT share one manifest."""
    manifest = read_manifest(output)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest.setdefault("format", "syncode-manifest/1")
    manifest["updated_at"] = now
    manifest["config"] = config
    manifest["versions"] = {"code_revision": code_revision(), "packages": package_versions()}
    jobs = manifest.setdefault("jobs", {})
    jobs[job] = {
        "finished_at": now,
        "stages_run": [s.stage for s in funnel],
        "funnel": [s.as_dict() for s in funnel],
        "tokens": tokens,
        "outputs": outputs,
        **(extra or {}),
    }
    manifest["tokens"] = {k: v for j in jobs.values() for k, v in j.get("tokens", {}).items()}
    manifest["shards"] = {name: shards for j in jobs.values() for name, shards in j.get("outputs", {}).items()}
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    path = output.rstrip("/") + "/" + MANIFEST_NAME
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as fh:
        fh.write(text.encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    return manifest
