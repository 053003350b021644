"""File listing and checksums through Beam FileSystems (local, gs://, s3://), and JSON Lines reading."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def file_metadata(pattern: str) -> list[Any]:
    """Beam's FileMetadata (path, size, mtime) of every file a glob matches, sorted by path; none is no error."""
    from apache_beam.io.filesystems import FileSystems  # imported here: this module stays light without Beam

    return sorted((m for r in FileSystems.match([pattern]) for m in r.metadata_list), key=lambda m: m.path)


def file_paths(pattern: str) -> list[str]:
    """The paths a glob matches, sorted."""
    return [m.path for m in file_metadata(pattern)]


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes as stored (a .gz is not decompressed), read in 1 MiB blocks."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """The objects of a .jsonl or .jsonl.gz file; blank lines skipped; a bad line raises ValueError with file:line."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not a JSON line ({exc.msg})") from exc
