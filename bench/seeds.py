"""Benchmark the seeds cascade: the code classifier and the whole cascade on held-out pages, throughput per core
against datatrove (WarcReader -> Trafilatura -> LanguageFilter -> GopherQualityFilter) on the same WARCs in the
same run, and the peak memory of one worker.

Reads ../shared/data (or $SYNCODE_SHARED_DATA); exits 0 with a message when it is missing. The peer runs under
$SYNCODE_PEER_PYTHON (default .bench-venv/bin/python; build it with bench/setup_peers.sh).
Throughput is pages per CPU-second (user + sys, children included: datatrove runs trafilatura in a sandbox
process), so it is per core and robust to other load on the machine; wall-clock rates are printed too.

Each side runs `--repeats` times, alternating, and its run with the least CPU counts: other load on the machine only
ever adds CPU time. Pages per second use each side's own page count (datatrove's reader skips pages libmagic does not
call HTML); `cpu_ratio_same_files` compares the CPU both spent on the same files.

Usage: python bench/seeds.py [--data DIR] [--debian_pages 60] [--repeats 3]
Last line: RESULT classifier_precision=... classifier_recall=... cascade_recall=... pages_per_s=...
           datatrove_pages_per_s=... speedup_vs_datatrove=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def held_out_pages(data: Path, card: dict, heldout: dict[str, str]):
    """(url, html, label, has <pre>/<code>) of the held-out pages, re-read with the card's split rule."""
    from pipeline.classifier_data import expand_paths, iter_tar_html, iter_warc_html
    from transforms.first_pass import code_signals, plain_text

    for patterns, role in ((POSITIVES, "code"), (NEGATIVES, "other")):
        for path in expand_paths(str(data / p) for p in patterns):
            pages = iter_tar_html(path, PYTHON_DOCS_URL) if path.endswith(".tar.gz") else iter_warc_html(path)
            for url, html in pages:
                if heldout.get(url) != role:
                    continue
                signals = code_signals(html, plain_text(html))
                has_code = bool(signals.n_pre or signals.n_code)
                if role == "other" and has_code and card["data"]["skip_negatives_with_code_tags"]:
                    continue
                yield url, html, role, has_code


def measure_quality(data: Path) -> dict:
    """Classifier and cascade precision/recall on the pages the shipped model was not trained on."""
    from pipeline.config import load_config
    from pipeline.train_classifier import metrics_at
    from transforms.code_classifier import code_probability
    from transforms.first_pass import plain_text

    model_path = REPO / load_config().code_classifier.model_path
    card = json.loads(model_path.with_suffix(".card.json").read_text())
    held_path = model_path.parent / card["holdout"]["pages"]
    heldout = {}
    for line in held_path.read_text().splitlines():
        row = json.loads(line)
        heldout[row["url"]] = row["label"]
    fns = cascade_stages()
    classifier = fns[1]
    scores, truth, kept_truth = [], [], []
    with_code = kept_with_code = 0
    drops: Counter = Counter()
    for url, html, label, has_code in held_out_pages(data, card, heldout):
        scores.append(code_probability(classifier.model, plain_text(html), classifier.config.max_chars))
        truth.append(label == "code")
        with_code += label == "code" and has_code
        seed, stage, reason = run_cascade(fns, _page(url, html))
        if seed is not None:
            kept_truth.append(label == "code")
            kept_with_code += label == "code" and has_code
        elif label == "code":
            drops[f"{stage}.{reason}"] += 1
    threshold = classifier.config.threshold
    clf = metrics_at(scores, truth, threshold)
    positives = sum(truth)
    cascade = {"pages": len(truth), "positives": positives, "kept": len(kept_truth),
               "kept_positives": sum(kept_truth),
               "recall": sum(kept_truth) / positives if positives else 0.0,
               "precision": sum(kept_truth) / len(kept_truth) if kept_truth else 0.0,
               "positives_with_code_blocks": with_code,
               "recall_with_code_blocks": kept_with_code / with_code if with_code else 0.0,
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


def _run_json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("SYNCODE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--debian_pages", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side; the least CPU of each counts")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return 0
    data = Path(args.data)
    if not (data / "warc" / "debian-docs").is_dir():
        print(f"bench/seeds.py: shared data not found at {data} (set SYNCODE_SHARED_DATA or --data); nothing measured")
        print("RESULT skipped=shared_data_missing")
        return 0
    peer_python = os.environ.get("SYNCODE_PEER_PYTHON", str(REPO / ".bench-venv" / "bin" / "python"))
    if not Path(peer_python).exists():
        print(f"bench/seeds.py: peer interpreter {peer_python} not found: run bench/setup_peers.sh "
              "or set SYNCODE_PEER_PYTHON; nothing measured")
        print("RESULT skipped=peer_missing")
        return 0
    print(f"data: {data}; peer: {peer_python}", flush=True)
    quality = measure_quality(data)
    print("classifier on held-out pages:", json.dumps(quality["classifier"]), flush=True)
    print("cascade on held-out pages:", json.dumps(quality["cascade"]), flush=True)
    runs: dict[str, list[dict]] = {"ours": [], "datatrove": []}
    with tempfile.TemporaryDirectory() as tmp:
        debian = write_mix(data, Path(tmp), args.debian_pages)
        for n in range(args.repeats):  # alternated, so a slow spell of the machine hits both sides alike
            runs["ours"].append(_run_json([sys.executable, __file__, "--worker", tmp]))
            runs["datatrove"].append(_run_json([peer_python, str(REPO / "bench" / "peer_datatrove_seeds.py"), tmp,
                                                str(REPO / "models" / "lid.176.ftz")]))
            print(f"run {n + 1}/{args.repeats}: ours {runs['ours'][-1]['cpu_s']:.2f} CPU s, datatrove "
                  f"{runs['datatrove'][-1]['cpu_s']:.2f} CPU s", flush=True)
    # the least CPU each side needed: other load on the machine only ever adds to it
    ours, peer = (min(runs[side], key=lambda r: r["cpu_s"]) for side in ("ours", "datatrove"))
    print(f"mix: {ours['pages']} pages ({debian} Debian doc pages); datatrove's reader keeps {peer['pages']} of "
          "them as HTML", flush=True)
    print("ours (best run):", json.dumps(ours), flush=True)
    print("datatrove (best run):", json.dumps(peer), flush=True)
    ours_rate, peer_rate = ours["pages"] / ours["cpu_s"], peer["pages"] / peer["cpu_s"]
    same_files = peer["cpu_s"] / ours["cpu_s"]
    print(f"wall clock: ours {ours['pages'] / ours['wall_s']:.1f} pages/s, "
          f"datatrove {peer['pages'] / peer['wall_s']:.1f} pages/s; CPU on the same files: datatrove / ours = "
          f"{same_files:.2f}")
    clf, cascade = quality["classifier"], quality["cascade"]
    print(f"RESULT classifier_precision={clf['precision']:.4f} classifier_recall={clf['recall']:.4f} "
          f"cascade_recall={cascade['recall']:.4f} cascade_precision={cascade['precision']:.4f} "
          f"cascade_recall_code_blocks={cascade['recall_with_code_blocks']:.4f} "
          f"pages_per_s={ours_rate:.1f} datatrove_pages_per_s={peer_rate:.1f} "
          f"speedup_vs_datatrove={ours_rate / peer_rate:.2f} cpu_ratio_same_files={same_files:.2f} "
          f"peak_rss_mb={max(r['peak_rss_mb'] for r in runs['ours']):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
