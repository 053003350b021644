"""`python -m pipeline verify OUT`: check shards against the manifest so a corrupt or partial output never ships."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from ledger.files import file_paths, file_sha256
from ledger.records import PAIR_SCHEMA, PREFERENCE_SCHEMA, SEED_SCHEMA
from pipeline.errors import EXIT_MISMATCH, EXIT_OK
from pipeline.manifest import read_manifest

OUTPUT_SCHEMAS: dict[str, pa.Schema] = {"seeds": SEED_SCHEMA, "data": PAIR_SCHEMA, "preference": PREFERENCE_SCHEMA}
WRITE_STAGES = {"seeds": ("seeds", "WriteSeeds"), "data": ("synth", "WritePairs"),  # tier "data.X": WritePairs-X
                "preference": ("synth", "WritePreference")}
_NAME_RE = re.compile(r"-(\d{5})-of-(\d{5})\.parquet$")


def check_schema(name: str, actual: pa.Schema, expected: pa.Schema) -> list[str]:
    """Columns missing, extra or of another type than the documented schema."""
    problems = []
    for field in expected:
        if field.name not in actual.names:
            problems.append(f"{name}: column {field.name!r} missing")
        elif not actual.field(field.name).type.equals(field.type):
            problems.append(f"{name}: column {field.name!r} is {actual.field(field.name).type}, expected {field.type}")
    extra = [n for n in actual.names if n not in expected.names]
    if extra:
        problems.append(f"{name}: unexpected columns {extra}")
    return problems


def check_shard_set(output: str, shards: list[dict[str, Any]]) -> list[str]:
    """Names follow train-XXXXX-of-YYYYY, the set is complete, and no unlisted shard sits beside it."""
    problems = []
    counts = {m.group(2) for s in shards if (m := _NAME_RE.search(s["path"]))}
    if len(counts) != 1:
        return [f"{output}: shards do not share one -of-N count: {sorted(counts)}"]
    n = int(counts.pop())
    have = sorted(int(_NAME_RE.search(s["path"]).group(1)) for s in shards)
    if have != list(range(n)):
        problems.append(f"{output}: shard set incomplete or repeated: have {have}, expected 0..{n - 1}")
    return problems


def verify_output(root: str) -> list[str]:
    """Every problem found in OUT: schema, checksums, row counts, counts against the funnel, duplicate ids."""
    root = root.rstrip("/")
    manifest = read_manifest(root)
    if not manifest:
        return [f"{root}/manifest.json is missing or empty"]
    problems: list[str] = []
    for output, shards in manifest.get("shards", {}).items():
        if not shards:
            problems.append(f"{output}: manifest lists no shards")
            continue
        problems += check_shard_set(output, shards)
        listed = {f"{root}/{s['path']}" for s in shards}
        pattern = f"{root}/" + _NAME_RE.sub("-*.parquet", shards[0]["path"])
        on_disk = set(file_paths(pattern))
        for path in sorted(on_disk - listed):
            problems.append(f"{output}: {path} is not in the manifest")
        ids: Counter[str] = Counter()
        total_rows = 0
        for shard in shards:
            path = f"{root}/{shard['path']}"
            if not FileSystems.exists(path):
                problems.append(f"{shard['path']}: listed in the manifest but missing")
                continue
            if file_sha256(path) != shard["sha256"]:
                problems.append(f"{shard['path']}: sha256 does not match the manifest")
            try:
                with FileSystems.open(path) as fh:
                    table = pq.read_table(fh)
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{shard['path']}: cannot be read as Parquet: {exc}")
                continue
            if table.num_rows != shard["rows"]:
                problems.append(f"{shard['path']}: {table.num_rows} rows, manifest says {shard['rows']}")
            kind = output.split(".", 1)[0]
            if kind in OUTPUT_SCHEMAS:
                problems += check_schema(shard["path"], table.schema, OUTPUT_SCHEMAS[kind])
            if "id" in table.column_names:
                ids.update(table.column("id").to_pylist())
            total_rows += table.num_rows
        dupes = [i for i, c in ids.items() if c > 1]
        if dupes:
            problems.append(f"{output}: {len(dupes)} duplicate id(s), e.g. {dupes[:3]}")
        problems += _check_funnel(manifest, output, total_rows)
    return problems


def _check_funnel(manifest: dict[str, Any], output: str, total_rows: int) -> list[str]:
    """The rows on disk equal what the writing stage kept (a partial --only_shards run cannot be checked this way)."""
    kind, _, tier = output.partition(".")
    if kind not in WRITE_STAGES:
        return []
    job_name, stage = WRITE_STAGES[kind]
    stage += f"-{tier}" if tier else ""
    job = manifest.get("jobs", {}).get(job_name)
    if not job or job.get("regenerations"):
        return []  # shards regenerated since the full run: the full-run funnel no longer describes all of them
    kept = next((s["kept"] for s in job.get("funnel", []) if s["stage"] == stage), None)
    if kept is not None and kept != total_rows:
        return [f"{output}: {total_rows} rows on disk, but {stage} kept {kept}"]
    return []


def run_verify(output: str) -> int:
    """Print the verdict; exit status 1 on any problem."""
    problems = verify_output(output)
    if problems:
        print(f"verify {output}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return EXIT_MISMATCH
    manifest = read_manifest(output)
    summary = ", ".join(f"{name}: {len(s)} shards, {sum(x['rows'] for x in s)} rows"
                        for name, s in manifest.get("shards", {}).items())
    print(f"verify {output}: OK ({summary})")
    return EXIT_OK
