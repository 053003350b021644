"""Rebuild tests/data/bench/shared: a few real pages of ../shared/data in its own layout, for the benches' --smoke."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data"]  # a clone, a worktree
SRC = Path(sys.argv[1] if len(sys.argv) > 1 else next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])) / "warc"
OUT = HERE / "shared" / "warc"
# (folder, file, URLs): small pages, with and without <pre>, of each set the extraction benches read
PICKS = [
    ("debian-docs", "debian-docs-00.warc.gz", [
        "https://cmake.org/cmake/help/v3.25/module/CMakeFindDependencyMacro.html",
        "https://www.postgresql.org/docs/15/sql-dropconversion.html",
        "https://www.sqlite.org/carray.html",
        "https://doc.rust-lang.org/1.63.0/std/keyword.loop.html",
        "https://www.erlang.org/docs/25/doc/system_principles/error_logging.html",
        "https://www.postgresql.org/docs/15/notation.html"]),
    ("trafilatura-eval", "trafilatura-eval-00.warc.gz", [
        "https://flowfx.de/blog/copy-paste-from-tmux-to-system-clipboard/",
        "http://feuerwehrtaucher-oldenburg.de/bootsdienst/ausbildung.html",
        "http://mediaarchitecture.de/jens-weber/"]),
    ("trafilatura-eval", "trafilatura-eval-02.warc.gz", ["https://anarc.at/blog/2020-10-18-cdpath-replacement/"]),
    ("article-benchmark", "aeb-pages-00.warc.gz", [
        "https://www.thespacereview.com/article/3834/1",
        "https://www.lhpat-tm.com/blog/decision-info/index-2726.html"]),
]


def copy_members(src: Path, urls: list[str], out) -> list[str]:
    """Append the gzip members of `src` whose response URL is in `urls` to `out`, byte for byte; return record ids."""
    ids, found = [], set()
    with src.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            url = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type != "response" or url not in urls:
                continue
            record.content_stream().read()
            iterator.read_to_end(record)
            start, length = iterator.get_record_offset(), iterator.get_record_length()
            with src.open("rb") as raw:
                raw.seek(start)
                out.write(raw.read(length))
            ids.append(record.rec_headers.get_header("WARC-Record-ID"))
            found.add(url)
    missing = set(urls) - found
    if missing:
        raise SystemExit(f"not in {src}: {sorted(missing)}")
    return ids


def main() -> None:
    ids: dict[str, list[str]] = {}
    for folder, name, urls in PICKS:
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        with (OUT / folder / f"smoke-{name}").open("ab") as out:  # named after its source file
            ids.setdefault(folder, []).extend(copy_members(SRC / folder / name, urls, out))
    wanted = set(ids["debian-docs"])
    labels = [line for line in (SRC / "debian-docs" / "labels.jsonl").read_text().splitlines()
              if json.loads(line)["record_id"] in wanted]
    (OUT / "debian-docs" / "labels.jsonl").write_text("\n".join(labels) + "\n")
    eval_urls = {u for folder, _, urls in PICKS if folder == "trafilatura-eval" for u in urls}
    evaldata = json.loads((SRC / "trafilatura-eval" / "evaldata.json").read_text())
    (OUT / "trafilatura-eval" / "evaldata.json").write_text(
        json.dumps({u: evaldata[u] for u in sorted(eval_urls)}, indent=1, ensure_ascii=False) + "\n")
    article_urls = {u for folder, _, urls in PICKS if folder == "article-benchmark" for u in urls}
    truth = json.loads((SRC / "article-benchmark" / "ground-truth.json").read_text())
    (OUT / "article-benchmark" / "ground-truth.json").write_text(
        json.dumps({k: v for k, v in truth.items() if v["url"] in article_urls}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
