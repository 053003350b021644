"""Rebuild the bundled sample WARCs from ../shared/data, copying gzip members byte-for-byte so records stay real."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

PACKAGES = ("rust-doc", "erlang-doc", "ghc-doc", "nim-doc", "cmake-doc", "postgresql-doc-15", "sqlite3-doc",
            "nodejs-doc", "crystal-doc", "groovy-doc")
PAGES_PER_PACKAGE = 6
TRAFILATURA_PAGES = 30
CC_FILES = ("resiliparse__warcfile.warc.gz", "whirlwind__whirlwind.warc.gz")


def _members(path: Path):
    """Yield (record, raw gzip member bytes) for each record in a gzip-per-record WARC."""
    data = path.read_bytes()
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            record.content_stream().read()
            start, length = it.get_record_offset(), it.get_record_length()
            yield record, data[start:start + length]


def _copy(src: Path, dst: Path, want) -> int:
    n = 0
    with dst.open("wb") as out:
        for record, raw in _members(src):
            if record.rec_type == "warcinfo" or want(record):
                out.write(raw)
                n += record.rec_type != "warcinfo"
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "warc"))
    args = ap.parse_args()
    shared, out = Path(args.shared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261125)

    for name in CC_FILES:
        n = _copy(shared / "warc/real" / name, out / f"cc-{name}", lambda r: True)
        print(f"cc-{name}: {n} records")

    labels = [json.loads(line) for line in (shared / "warc/debian-docs/labels.jsonl").open()]
    chosen: set[str] = set()
    for pkg in PACKAGES:
        rows = [r for r in labels if r["package"] == pkg and r["warc_file"] == "debian-docs-00.warc.gz"]
        code = [r for r in rows if r["has_code_block"]]
        plain = [r for r in rows if not r["has_code_block"]]
        pick = rng.sample(code, min(len(code), PAGES_PER_PACKAGE - 1)) + rng.sample(plain, min(len(plain), 1))
        chosen.update(r["record_id"] for r in pick)
    n = _copy(shared / "warc/debian-docs/debian-docs-00.warc.gz", out / "debian-docs-sample.warc.gz",
              lambda r: r.rec_headers.get_header("WARC-Record-ID") in chosen)
    print(f"debian-docs-sample: {n} records")

    src = shared / "warc/trafilatura-eval/trafilatura-eval-00.warc.gz"
    ids = [r.rec_headers.get_header("WARC-Record-ID") for r, _ in _members(src) if r.rec_type == "response"]
    keep = set(rng.sample(ids, TRAFILATURA_PAGES))
    n = _copy(src, out / "trafilatura-eval-sample.warc.gz",
              lambda r: r.rec_headers.get_header("WARC-Record-ID") in keep)
    print(f"trafilatura-eval-sample: {n} records")


if __name__ == "__main__":
    main()
