"""OUT/manifest.json: what ran, with which config and versions, what each stage kept, and a checksum per shard."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from apache_beam.io.filesystems import FileSystems

from ledger.files import file_metadata
from pipeline.funnel import StageCounts
from transforms.write_parquet import INDEX_DIR

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


def _read_json(path: str) -> dict[str, Any]:
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def finalize_shards(directory: str, root: str, prefix: str = "train") -> list[dict[str, Any]]:
    """The shard set the latest run wrote, from the writers' index entries; older sets and temp files go.

    The latest run's shard count is the one of the newest index entry. Shards of another count (an earlier run
    with another size) and the temp files of a crashed write are deleted, so readers see one consistent set.
    """
    directory = directory.rstrip("/")
    metas = file_metadata(f"{directory}/{INDEX_DIR}/{prefix}-*.json")
    if not metas:
        return []
    newest = max(metas, key=lambda m: m.last_updated_in_seconds)
    num_shards = _read_json(newest.path)["num_shards"]
    suffix = f"-of-{num_shards:05d}.parquet"
    stale = [m.path for m in file_metadata(f"{directory}/{prefix}-*.parquet") if not m.path.endswith(suffix)]
    stale += [m.path for m in metas if not m.path.endswith(suffix + ".json")]
    stale += [m.path for m in file_metadata(f"{directory}/.tmp-*")]
    if stale:
        FileSystems.delete(stale)
    rel = directory[len(root.rstrip("/")) + 1:] if directory.startswith(root.rstrip("/") + "/") else directory
    entries = sorted((_read_json(m.path) for m in metas if m.path.endswith(suffix + ".json")),
                     key=lambda e: e["shard"])
    return [{"path": f"{rel}/{e['path']}", "shard": e["shard"], "num_shards": e["num_shards"], "rows": e["rows"],
             "bytes": e["bytes"], "sha256": e["sha256"], "tokens": e.get("tokens", {})} for e in entries]


def sum_tokens(shards: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for shard in shards:
        for key, value in shard.get("tokens", {}).items():
            out[key] = out.get(key, 0) + value
    return out


def read_manifest(output: str) -> dict[str, Any]:
    path = output.rstrip("/") + "/" + MANIFEST_NAME
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def write_manifest(output: str, job: str, config: dict[str, Any], funnel: list[StageCounts],
                   outputs: dict[str, list[dict[str, Any]]], tokens: dict[str, int],
                   extra: dict[str, Any] | None = None, only_shards: list[int] | None = None) -> dict[str, Any]:
    """Merge this job's part into OUT/manifest.json, so seeds and synth runs into one OUT share one manifest.

    A run with --only_shards keeps the job's full-run funnel and appends itself to `regenerations`.
    """
    manifest = read_manifest(output)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest.setdefault("format", "syncode-manifest/1")
    manifest["updated_at"] = now
    manifest["config"] = config
    manifest["versions"] = {"code_revision": code_revision(), "packages": package_versions()}
    jobs = manifest.setdefault("jobs", {})
    run = {
        "finished_at": now,
        "stages_run": [s.stage for s in funnel],
        "funnel": [s.as_dict() for s in funnel],
        "tokens": tokens,
        **(extra or {}),
    }
    if only_shards and job in jobs:
        jobs[job].setdefault("regenerations", []).append({"only_shards": only_shards, **run})
        jobs[job]["outputs"] = outputs
    else:
        jobs[job] = {**run, "outputs": outputs}
    manifest["tokens"] = {k: v for j in jobs.values() for name, shards in j.get("outputs", {}).items()
                          for k, v in sum_tokens(shards).items()}
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
