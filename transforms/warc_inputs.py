"""Turn `--input` values (paths, globs, Common Crawl `warc.paths.gz` listings) into the WARC files to read.

At launch only a cheap check runs (`check_inputs`: a glob matches one file, a listing's head names a WARC); the
listing itself is expanded on the workers (`WarcFiles`), so the job graph holds the patterns, never the files.
"""

from __future__ import annotations

import functools
import gzip
import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from ledger.files import file_paths
from transforms.resuming_read import HTTP_TIMEOUT_S, ResumingReader, open_http

CC_BASE_URL = "https://data.commoncrawl.org/"


class InputError(ValueError):
    """An --input value that names no readable WARC, said plainly."""


def is_listing(path: str) -> bool:
    """Common Crawl publishes `warc.paths.gz`: one relative WARC path per line."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".paths.gz") or name.endswith(".paths")


def is_http(path: str) -> bool:
    """Beam has no HTTP filesystem, so http(s) inputs are streamed with urllib instead."""
    return path.startswith(("http://", "https://"))


def is_remote(path: str) -> bool:
    """Read over a network, so a read may fail mid-file and is resumed (transforms/resuming_read.py)."""
    return path.startswith(("http://", "https://", "gs://", "s3://"))


def _open_at(path: str, offset: int) -> BinaryIO:
    if is_http(path):
        return open_http(path, offset, HTTP_TIMEOUT_S)
    fh = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    if offset:
        fh.seek(offset)
    return fh


def open_input(path: str, retries: int = 5, backoff_s: float = 1.0) -> BinaryIO:
    """A binary stream of a WARC or listing: local, gs://, s3:// through Beam FileSystems, http(s) through urllib;
    a remote one retries with backoff and resumes at the last byte read (an HTTP Range request, or a seek)."""
    if is_remote(path):
        return ResumingReader(path, functools.partial(_open_at, path), retries=retries, backoff_s=backoff_s)
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_listing(path: str, base_url: str = CC_BASE_URL) -> list[str]:
    """The WARC paths a listing names, made absolute against the Common Crawl base URL when relative."""
    try:
        with open_input(path) as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"listing {path} cannot be read: {exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"listing {path} is not readable gzip: {exc}") from exc
    out = [path for line in io.StringIO(raw.decode("utf-8", errors="replace"))
           if (path := _listing_line(line, base_url)) is not None]
    if not out:
        raise InputError(f"listing {path} names no WARC files")
    return out


def _listing_line(line: str, base_url: str) -> str | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    return line if "://" in line or line.startswith("/") else base_url.rstrip("/") + "/" + line


def input_pieces(patterns: list[str]) -> list[str]:
    """The comma-separated pieces of every --input value, blanks left out, in order, without duplicates."""
    pieces = (p.strip() for pattern in patterns for p in pattern.split(","))
    return list(dict.fromkeys(p for p in pieces if p))


def check_listing(path: str, base_url: str = CC_BASE_URL, head_bytes: int = 1 << 16) -> None:
    """A listing opens and its first bytes name a WARC; the rest is read on the workers."""
    try:
        with open_input(path) as fh:
            raw = fh.read(head_bytes)
    except OSError as exc:
        raise InputError(f"listing {path} cannot be read: {exc}") from exc
    cut = len(raw) >= head_bytes
    if raw[:2] == b"\x1f\x8b":
        try:
            text = zlib.decompressobj(31).decompress(raw, 1 << 20)
        except zlib.error as exc:
            raise InputError(f"listing {path} is not readable gzip: {exc}") from exc
        cut = cut or len(text) >= 1 << 20
        raw = text
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if cut and len(lines) > 1:
        lines = lines[:-1]  # the last line of a head may be cut short
    if not any(_listing_line(line, base_url) for line in lines):
        raise InputError(f"listing {path} names no WARC files")


def check_inputs(patterns: list[str], base_url: str = CC_BASE_URL) -> list[str]:
    """The --input pieces, each checked cheaply at launch: a glob matches a file, a listing's head names a WARC.
    Nothing is listed in full here: the graph carries the pieces and the workers expand them."""
    pieces = input_pieces(patterns)
    if not pieces:
        raise InputError("no input files: pass --input with WARC paths, globs or a warc.paths.gz listing")
    for piece in pieces:
        if is_listing(piece):
            check_listing(piece, base_url)
        elif not is_http(piece):
            try:
                found = any(r.metadata_list for r in FileSystems.match([piece], limits=[1]))
            except Exception as exc:  # Beam raises BeamIOError with the per-pattern cause
                raise InputError(f"--input {piece!r} cannot be listed: {exc}") from exc
            if not found:
                raise InputError(f"--input {piece!r} matches no files")
    return pieces


def expand_input(piece: str, base_url: str = CC_BASE_URL) -> Iterator[str]:
    """The WARC paths one piece stands for, on a worker: a listing's lines, a glob's matches, a URL itself. A
    listing that cannot be read now yields its own path, so ReadWarc counts it as a `read_error`, never lost."""
    if is_listing(piece):
        try:
            yield from read_listing(piece, base_url)
        except InputError:
            yield piece
    elif is_http(piece):
        yield piece
    else:
        matched = file_paths(piece)
        yield from matched if matched else [piece]  # gone since launch: ReadWarc counts it as a read_error


class WarcFiles(beam.PTransform):
    """The checked --input pieces in, every WARC path they name out, once each, expanded on the workers."""

    def __init__(self, pieces: list[str], base_url: str = CC_BASE_URL, label: str | None = None):
        super().__init__(label)
        self.pieces = list(pieces)
        self.base_url = base_url

    def expand(self, pbegin):
        return (pbegin | "InputPieces" >> beam.Create(self.pieces)
                | "ExpandInputs" >> beam.FlatMap(expand_input, self.base_url)
                | "OnceEach" >> beam.Distinct())


def resolve_inputs(patterns: list[str], base_url: str = CC_BASE_URL) -> list[str]:
    """Expand every pattern; a pattern that matches nothing is an error, not an empty job."""
    files: list[str] = []
    for pattern in patterns:
        for piece in (p.strip() for p in pattern.split(",")):
            if not piece:
                continue
            if is_listing(piece):
                files.extend(read_listing(piece, base_url))
                continue
            if is_http(piece):
                files.append(piece)
                continue
            try:
                matched = file_paths(piece)
            except Exception as exc:  # Beam raises BeamIOError with the per-pattern cause
                raise InputError(f"--input {piece!r} cannot be listed: {exc}") from exc
            if not matched:
                raise InputError(f"--input {piece!r} matches no files")
            files.extend(matched)
    if not files:
        raise InputError("no input files: pass --input with WARC paths, globs or a warc.paths.gz listing")
    return list(dict.fromkeys(files))
