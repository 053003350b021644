"""Turn `--input` values (paths, globs, Common Crawl `warc.paths.gz` listings) into the list of WARC files to read."""

from __future__ import annotations

import gzip
import io
import urllib.request
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from ledger.files import file_paths

CC_BASE_URL = "https://data.commoncrawl.org/"
HTTP_TIMEOUT_S = 60.0
USER_AGENT = "syncode/0.1 (+https://github.com/syncode; Common Crawl reader)"


class InputError(ValueError):
    """An --input value that names no readable WARC, said plainly."""


def is_listing(path: str) -> bool:
    """Common Crawl publishes `warc.paths.gz`: one relative WARC path per line."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".paths.gz") or name.endswith(".paths")


def is_http(path: str) -> bool:
    """Beam has no HTTP filesystem, so http(s) inputs are streamed with urllib instead."""
    return path.startswith(("http://", "https://"))


def open_input(path: str) -> BinaryIO:
    """A binary stream of a WARC or listing: local, gs://, s3:// through Beam FileSystems, http(s) through urllib."""
    if is_http(path):
        request = urllib.request.Request(path, headers={"User-Agent": USER_AGENT})
        return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)  # noqa: S310 - the scheme is checked above
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
    out = []
    for line in io.StringIO(raw.decode("utf-8", errors="replace")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line if "://" in line or line.startswith("/") else base_url.rstrip("/") + "/" + line)
    if not out:
        raise InputError(f"listing {path} names no WARC files")
    return out


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
