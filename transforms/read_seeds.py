"""ReadSeeds: seed Parquet files in, Seeds out; a file or row group that cannot be read is a counted drop that
names the file, so one corrupt shard never stops the synth job."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems

from ledger.drop import Drop
from ledger.records import Seed, seed_from_row
from transforms.stage import Stage, StageDoFn

STAGE = "ReadSeeds"
_LOG = logging.getLogger("syncode.read_seeds")
# What a damaged file raises from pyarrow or the filesystem: bad magic, a cut footer, a page that does not decode.
READ_ERRORS = (OSError, ValueError, pa.ArrowException)


def missing_columns(columns: list[str]) -> list[str]:
    """The Seed fields without a default that a file's columns lack (an older seeds run may lack the others)."""
    return [name for name in Seed._fields if name not in columns and name not in Seed._field_defaults]


class ReadSeedFileFn(StageDoFn):
    """Reads one seed Parquet file row group by row group; each seed is kept, each part that cannot be read is one
    `unreadable` drop (a file without the seed columns one `missing_columns` drop) whose detail names the file."""

    def process(self, path: str) -> Iterator:
        self.counters.count("files")
        try:
            fh = FileSystems.open(path)
        except READ_ERRORS as exc:
            yield self._file_drop(path, Drop("unreadable", f"{path}: cannot open: {_why(exc)}"))
            return
        with fh:
            try:
                parquet = pq.ParquetFile(fh)
            except READ_ERRORS as exc:
                yield self._file_drop(path, Drop("unreadable", f"{path}: not a readable Parquet file: {_why(exc)}"))
                return
            names = parquet.schema_arrow.names
            missing = missing_columns(names)
            if missing:
                yield self._file_drop(path, Drop("missing_columns", f"{path}: no column(s) {missing}"))
                return
            columns = [name for name in Seed._fields if name in names]
            for group in range(parquet.num_row_groups):
                try:
                    rows = parquet.read_row_group(group, columns=columns).to_pylist()
                except READ_ERRORS as exc:
                    rows_lost = parquet.metadata.row_group(group).num_rows
                    yield self._file_drop(path, Drop("unreadable", f"{path}: row group {group} ({rows_lost} rows) "
                                                                   f"cannot be read: {_why(exc)}"))
                    continue
                for row in rows:
                    self.counters.seen()
                    yield self.keep(seed_from_row(row))

    def _file_drop(self, path: str, drop: Drop) -> pvalue.TaggedOutput:
        """One counted drop for a file (or part of one) that yields no seeds, logged on one line that names it."""
        _LOG.warning("%s: %s: %s", self.stage, drop.reason, drop.detail)
        self.counters.seen()
        return self.drop(None, drop, id=path, url=path)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class ReadSeeds(Stage):
    """The seed files a glob matches, listed when the job runs (not in the graph), read into Seeds."""

    def __init__(self, pattern: str, progress_interval_s: float = 10.0, stage: str = STAGE,
                 label: str | None = None):
        super().__init__(ReadSeedFileFn(stage, progress_interval_s), label)
        self.pattern = pattern

    def expand(self, pbegin):
        paths = (pbegin | "MatchSeedFiles" >> fileio.MatchFiles(self.pattern)
                 | "SeedPaths" >> beam.Map(lambda m: m.path) | "SpreadFiles" >> beam.Reshuffle())
        return self.apply_fn(paths)
