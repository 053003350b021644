"""Benchmark the seeds cascade: the code classifier and the whole cascade on the report split of the labelled pages,
throughput per core against two datatrove pipelines on the same WARCs in the same run (WarcReader -> Trafilatura ->
LanguageFilter -> GopherQualityFilter, and the same prefiltered by datatrove's fastText filter with our code model),
and the peak memory of one worker.

Splits: `train` is what the shipped classifier learnt from (its card's hold-out rule); the rest is split by a second
URL hash into `tune` (for choosing thresholds: `--split tune`) and `report` (the published figures). Negatives with
<pre>/<code>, which train-classifier skips, carry hand labels (bench/labels/noncode_with_code_tags.tsv).

Reads ../shared/data (or $SYNCODE_SHARED_DATA); exits 0 with a message when it is missing. `--smoke` runs on a few
pages of the bundled sample/warc instead (the test suite runs it). The peers run under $SYNCODE_PEER_PYTHON (default
.bench-venv/bin/python; build it with bench/setup_peers.sh), each within `--peer_timeout_s`; a peer that stalls or
extracts nothing is reported as `stall`, one that is missing as `peer_missing`, never as a number.
Throughput is pages per CPU-second (user + sys, children included: datatrove runs trafilatura in a sandbox
process), so it is per core and robust to other load on the machine; wall-clock rates are printed too.

Each side runs `--repeats` times, alternating, and its run with the least CPU counts: other load on the machine only
ever adds CPU time. Pages per second use each side's own page count (datatrove's reader skips pages libmagic does not
call HTML); `cpu_ratio_same_files` compares the CPU both spent on the same files.

Usage: python bench/seeds.py [--data DIR] [--debian_pages 60] [--repeats 3] [--split report|tune] [--smoke]
Last line: RESULT classifier_precision_report_split=... classifier_recall_report_split=...
           cascade_recall_report_split=... cascade_precision_report_split=...
           cascade_recall_code_blocks_report_split=... pages_per_s=... datatrove_pages_per_s=...
           datatrove_prefiltered_pages_per_s=... speedup_vs_datatrove=... speedup_vs_datatrove_prefiltered=...
           cpu_ratio_same_files=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.seeds_peers import PEERS, peer_command, peer_verdict, run_limited  # noqa: E402 - after the path

POSITIVES = ("warc/debian-docs/*.warc.gz", "python-docs-html/python3.11-doc-html-subset.tar.gz")
NEGATIVES = ("warc/trafilatura-eval/*.warc.gz", "warc/article-benchmark/*.warc.gz")
PYTHON_DOCS_URL = "https://docs.python.org/3.11/"


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def cascade_stages():
    """The seeds job's DoFns up to dedup, set up as a worker would: first pass ... scrub (CodeLang when present)."""
    from pipeline.config import load_config
    from transforms.code_classifier import CodeClassifierFn
    from transforms.code_lang import CodeLangFn
    from transforms.extract_code import ExtractCodePageFn
    from transforms.first_pass import FirstPassFn
    from transforms.lang_id import LangIdFn
    from transforms.quality import QualityFn
    from transforms.scrub import ScrubFn

    config = load_config()
    fns = [FirstPassFn(config.first_pass), CodeClassifierFn(config.code_classifier),
           ExtractCodePageFn(config.extract), LangIdFn(config.lang_id), QualityFn(config.quality),
           CodeLangFn(config.code_lang), ScrubFn(config.scrub)]
    for fn in fns:
        fn.setup()
    return fns


def run_cascade(fns, page, stage_s: Counter | None = None):
    """The page through every stage; returns (kept seed or None, stage that dropped it, reason). With `stage_s`,
    adds each stage's wall seconds to it (ExtractCodePage waits on its child, so wall, not CPU)."""
    from ledger.drop import Drop  # noqa: F401 - imported before the clock starts, like the stages

    element = page
    for fn in fns:
        t0 = time.perf_counter()
        element = fn.decide(element)
        if stage_s is not None:
            stage_s[fn.stage] += time.perf_counter() - t0
        if isinstance(element, Drop):
            return None, fn.stage, element.reason
    return element, "", ""


def _page(url: str, html: str):
    from ledger.ids import stable_id
    from ledger.records import Page

    return Page(stable_id(url), url, "", "", "", "", 0, "text/html", "utf-8", html)


def labelled_pages(sources, card: dict, labels: dict, split: str, limit: int | None = None,
                   unlabelled: list[str] | None = None):
    """(url, html, label, has <pre>/<code>, hand-labelled) of the labelled pages in `split` ('all' for every one).

    A source page is labelled by its role (positives: code, negatives: other), except a negative with <pre>/<code>,
    which train-classifier skipped: those carry a hand label (bench/labels/), and one without is counted, not used.
    The split: 'train' when the shipped classifier learnt from the page (the card's hold-out rule), else 'tune' or
    'report' by a second hash (bench/shared_pages.split_of)."""
    from bench.shared_pages import split_of
    from pipeline.classifier_data import is_held_out, iter_tar_html, iter_warc_html
    from transforms.first_pass import code_signals, plain_text

    holdout = card["holdout"]
    for path, role in sources:
        pages = iter_tar_html(path, PYTHON_DOCS_URL) if path.endswith(".tar.gz") else iter_warc_html(path)
        taken = 0
        for url, html in pages:
            if limit is not None and taken >= limit:
                break
            signals = code_signals(html, plain_text(html))
            has_code = bool(signals.n_pre or signals.n_code)
            hand = role == "other" and has_code
            if hand:
                if url not in labels:
                    if unlabelled is not None:
                        unlabelled.append(url)
                    continue
                label, trained = labels[url][0], False
            else:
                label, trained = role, not is_held_out(url, holdout["fraction"], holdout["salt"])
            if split != "all" and split_of(url, trained) != split:
                continue
            taken += 1
            yield url, html, label, has_code, hand


def quality_sources(data: Path) -> list[tuple[str, str]]:
    """(file, role) of the shared data's labelled pages: the classifier card's sources."""
    from pipeline.classifier_data import expand_paths

    return [(path, role) for patterns, role in ((POSITIVES, "code"), (NEGATIVES, "other"))
            for path in expand_paths(str(data / p) for p in patterns)]


def measure_quality(sources, split: str = "report", limit: int | None = None) -> dict:
    """Classifier and cascade precision/recall on the `split` pages (never the ones the model was trained on)."""
    from bench.shared_pages import read_page_labels
    from pipeline.config import load_config
    from pipeline.train_classifier import metrics_at
    from transforms.code_classifier import code_probability
    from transforms.first_pass import plain_text

    model_path = REPO / load_config().code_classifier.model_path
    card = json.loads(model_path.with_suffix(".card.json").read_text())
    labels = read_page_labels()
    fns = cascade_stages()
    classifier = fns[1]
    scores, truth, kept_truth = [], [], []
    with_code = kept_with_code = 0
    hand: Counter = Counter()  # hand-labelled pages: per label, and kept per label
    drops: Counter = Counter()
    unlabelled: list[str] = []  # negatives with code tags that bench/labels/ does not label
    for url, html, label, has_code, by_hand in labelled_pages(sources, card, labels, split, limit, unlabelled):
        scores.append(code_probability(classifier.model, plain_text(html), classifier.config.max_chars))
        truth.append(label == "code")
        with_code += label == "code" and has_code
        seed, stage, reason = run_cascade(fns, _page(url, html))
        hand[label] += by_hand
        if seed is not None:
            kept_truth.append(label == "code")
            kept_with_code += label == "code" and has_code
            hand[f"kept_{label}"] += by_hand
        elif label == "code":
            drops[f"{stage}.{reason}"] += 1
    for fn in fns:
        fn.teardown()
    clf = metrics_at(scores, truth, classifier.config.threshold)
    positives = sum(truth)
    cascade = {"split": split, "pages": len(truth), "positives": positives, "kept": len(kept_truth),
               "kept_positives": sum(kept_truth),
               "recall": sum(kept_truth) / positives if positives else 0.0,
               "precision": sum(kept_truth) / len(kept_truth) if kept_truth else 0.0,
               "positives_with_code_blocks": with_code,
               "recall_with_code_blocks": kept_with_code / with_code if with_code else 0.0,
               "hand_labelled": dict(hand), "unlabelled_code_tag_negatives": len(unlabelled),
               "positive_drops": dict(drops.most_common())}
    return {"classifier": clf, "cascade": cascade}


def write_mix(data: Path, folder: Path, debian_pages: int) -> int:
    """All trafilatura-eval and article-benchmark WARCs plus `debian_pages` Debian doc pages, as WARC files."""
    import shutil

    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    for pattern in ("warc/trafilatura-eval/*.warc.gz", "warc/article-benchmark/*.warc.gz"):
        for path in sorted(data.glob(pattern)):
            shutil.copy(path, folder / path.name)
    written = 0
    with open(sorted(data.glob("warc/debian-docs/*.warc.gz"))[-1], "rb") as src, \
            open(folder / "debian-docs-mix.warc.gz", "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for record in ArchiveIterator(src):
            if record.rec_type != "response" or written >= debian_pages:
                continue
            payload = record.content_stream().read()
            writer.write_record(writer.create_warc_record(
                record.rec_headers.get_header("WARC-Target-URI"), "response", payload=io.BytesIO(payload),
                http_headers=record.http_headers))
            written += 1
    return written


def worker(folder: str) -> None:
    """One worker's share of the seeds job up to dedup, in this process: ReadWarc ... Scrub. Prints JSON.

    The clock covers set-up (models, the extraction child) as well as the pages; the stages are torn down before it
    stops, so the extraction child has exited and its CPU is in RUSAGE_CHILDREN."""
    from ledger.drop import Drop  # noqa: F401 - imported before the clock starts, like the stages
    from pipeline.config import load_config
    from transforms.read_warc import ReadWarcFileFn

    files = sorted(str(p) for p in Path(folder).glob("*.warc.gz"))
    cpu0, wall0 = _cpu(), time.perf_counter()
    reader = ReadWarcFileFn(load_config().read)
    reader.setup()
    fns = cascade_stages()
    setup_cpu = _cpu() - cpu0
    pages = kept = 0
    drops: Counter = Counter()
    stage_s: Counter = Counter()  # wall seconds per stage
    for path in files:
        records = iter(reader.process(path))
        while True:
            t0 = time.perf_counter()
            page = next(records, None)
            stage_s["ReadWarc"] += time.perf_counter() - t0
            if page is None:
                break
            if not hasattr(page, "html"):
                continue  # a TaggedOutput: a record ReadWarc drops (requests, warcinfo)
            pages += 1
            seed, stage, reason = run_cascade(fns, page, stage_s)
            kept += seed is not None
            if seed is None:
                drops[f"{stage}.{reason}"] += 1
    for fn in fns:
        fn.teardown()
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(json.dumps({"pages": pages, "kept": kept, "cpu_s": cpu, "setup_cpu_s": setup_cpu, "wall_s": wall,
                      "peak_rss_mb": peak_mb, "stage_wall_s": {k: round(v, 2) for k, v in stage_s.items()},
                      "drops": dict(drops.most_common())}))


def smoke_data() -> list[tuple[str, str]]:
    """The bundled sample WARCs as labelled sources: Debian docs as positives, trafilatura-eval as negatives."""
    return [(str(REPO / "sample" / "warc" / "debian-docs-sample.warc.gz"), "code"),
            (str(REPO / "sample" / "warc" / "trafilatura-eval-sample.warc.gz"), "other")]


def write_smoke_mix(sources, folder: Path, pages: int) -> int:
    """The first `pages` responses of each sample WARC, as WARC files in `folder`."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    written = 0
    for path, _ in sources:
        with open(path, "rb") as src, open(folder / Path(path).name, "wb") as out:
            writer, n = WARCWriter(out, gzip=True), 0
            for record in ArchiveIterator(src):
                if record.rec_type == "response" and n < pages:
                    writer.write_record(writer.create_warc_record(
                        record.rec_headers.get_header("WARC-Target-URI"), "response",
                        payload=io.BytesIO(record.content_stream().read()), http_headers=record.http_headers))
                    n += 1
            written += n
    return written


def _ratio(ours_rate: float, run: dict | None, verdict: str) -> str:
    return verdict.split(":")[0] if verdict else f"{ours_rate / (run['pages'] / run['cpu_s']):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from bench.shared_pages import SHARED

    parser.add_argument("--data", default=str(SHARED),
                        help="the shared data (default $SYNCODE_SHARED_DATA, else ../shared/data)")
    parser.add_argument("--debian_pages", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; the least CPU of each counts")
    parser.add_argument("--split", default="report", choices=("report", "tune"),
                        help="labelled pages to measure quality on: report (the published figures) or tune")
    parser.add_argument("--peer_timeout_s", type=float, default=900.0, help="time limit of each peer run")
    parser.add_argument("--smoke", action="store_true",
                        help="a few pages of the bundled sample/warc, one run each: checks the bench still runs")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    data = Path(args.data)
    if not args.smoke and not (data / "warc" / "debian-docs").is_dir():
        print(f"bench/seeds.py: shared data not found at {data} (set SYNCODE_SHARED_DATA or --data); nothing measured")
        print("RESULT skipped=shared_data_missing")
        return 0
    peer_python = os.environ.get("SYNCODE_PEER_PYTHON", str(REPO / ".bench-venv" / "bin" / "python"))
    peer_missing = not Path(peer_python).exists()
    if peer_missing:
        print(f"bench/seeds.py: peer interpreter {peer_python} not found: run bench/setup_peers.sh "
              "or set SYNCODE_PEER_PYTHON; the peers are not measured")
    split = "all" if args.smoke else args.split
    repeats = 1 if args.smoke else args.repeats
    print(f"data: {'bundled sample/warc (smoke)' if args.smoke else data}; peer: {peer_python}", flush=True)
    sources = smoke_data() if args.smoke else quality_sources(data)
    quality = measure_quality(sources, split, limit=3 if args.smoke else None)
    print(f"classifier on the {split} split:", json.dumps(quality["classifier"]), flush=True)
    print(f"cascade on the {split} split:", json.dumps(quality["cascade"]), flush=True)
    runs: dict[str, list[dict | None]] = {"ours": [], **{peer: [] for peer in PEERS}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            debian = write_smoke_mix(sources, Path(tmp), 2)
        else:
            debian = write_mix(data, Path(tmp), args.debian_pages)
        for n in range(repeats):  # alternated, so a slow spell of the machine hits every side alike
            runs["ours"].append(run_limited([sys.executable, __file__, "--worker", tmp], 3600))
            for peer in PEERS if not peer_missing else ():
                runs[peer].append(run_limited(peer_command(peer_python, peer, tmp), args.peer_timeout_s))
            print(f"run {n + 1}/{repeats}: " + ", ".join(
                f"{side} {r[-1]['cpu_s']:.2f} CPU s" if r[-1] else f"{side} stalled" for side, r in runs.items() if r),
                flush=True)
    if runs["ours"][0] is None:
        raise RuntimeError("our worker ran past its hour")
    # the least CPU each side needed: other load on the machine only ever adds to it
    best = {side: min((r for r in rs if r), key=lambda r: r["cpu_s"], default=None) for side, rs in runs.items()}
    # a side counts only when every one of its runs was sound: one stall is reported, not outvoted
    verdicts = {peer: "peer_missing" if peer_missing else
                next((v for v in (peer_verdict(r, args.peer_timeout_s) for r in runs[peer]) if v), "")
                for peer in PEERS}
    ours = best["ours"]
    print(f"mix: {ours['pages']} pages ({debian} {'sample' if args.smoke else 'Debian doc'} pages); "
          f"datatrove's reader keeps {best['datatrove']['pages'] if best['datatrove'] else '?'} of them as HTML",
          flush=True)
    print("ours (best run):", json.dumps(ours), flush=True)
    for peer in PEERS:
        print(f"{peer} (best run):", json.dumps(best[peer]), f"-- {verdicts[peer]}" if verdicts[peer] else "",
              flush=True)
    ours_rate = ours["pages"] / ours["cpu_s"]
    rates = {peer: verdicts[peer].split(":")[0] if verdicts[peer] else
             f"{best[peer]['pages'] / best[peer]['cpu_s']:.1f}" for peer in PEERS}
    same_files = verdicts["datatrove"].split(":")[0] or f"{best['datatrove']['cpu_s'] / ours['cpu_s']:.2f}"
    print(f"wall clock: ours {ours['pages'] / ours['wall_s']:.1f} pages/s, " + ", ".join(
        f"{peer} {best[peer]['pages'] / best[peer]['wall_s']:.1f} pages/s" for peer in PEERS if best[peer]))
    clf, cascade = quality["classifier"], quality["cascade"]
    tag = "smoke" if args.smoke else f"{split}_split"
    print(f"RESULT classifier_precision_{tag}={clf['precision']:.4f} classifier_recall_{tag}={clf['recall']:.4f} "
          f"cascade_recall_{tag}={cascade['recall']:.4f} cascade_precision_{tag}={cascade['precision']:.4f} "
          f"cascade_recall_code_blocks_{tag}={cascade['recall_with_code_blocks']:.4f} "
          f"pages_per_s={ours_rate:.1f} datatrove_pages_per_s={rates['datatrove']} "
          f"datatrove_prefiltered_pages_per_s={rates['datatrove_prefiltered']} "
          f"speedup_vs_datatrove={_ratio(ours_rate, best['datatrove'], verdicts['datatrove'])} "
          f"speedup_vs_datatrove_prefiltered="
          f"{_ratio(ours_rate, best['datatrove_prefiltered'], verdicts['datatrove_prefiltered'])} "
          f"cpu_ratio_same_files={same_files} "
          f"peak_rss_mb={max(r['peak_rss_mb'] for r in runs['ours'] if r):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
