"""ExtractCodePage against plain trafilatura and datatrove's Trafilatura extractor, on the same shared pages.

Reads ../shared/data (or $SYNCODE_SHARED_DATA), or with --smoke the few pages bundled in tests/data/bench/shared;
the datatrove peer runs under $SYNCODE_PEER_PYTHON (default .bench-venv/bin/python, built by bench/setup_peers.sh)
in a subprocess with a time limit, and gets a figure only when it extracted text (`datatrove_status=ok`; otherwise
`skipped`, `stall`, `failed` or `no_text`, and `datatrove_code_fidelity=nan`).

- code_fidelity: share of <pre> blocks (2+ non-blank lines; pure line-number columns skipped) whose text appears
  verbatim in the output, trailing whitespace of each line normalised and nothing else; on a debian-docs sample
  and on every trafilatura-eval page that has a <pre>. Peers: trafilatura 2.3.1 Markdown, datatrove 0.10.1.
- with_found / without_absent: trafilatura-eval `evaldata.json` snippets found / boilerplate absent
  (whitespace collapsed and Markdown emphasis/heading marks removed, the same for every extractor).
- article_f1: token F1 against article-benchmark `ground-truth.json` (ours vs trafilatura 2.3.1 txt).
- codelang_accuracy: page-level main language (CodeLang on our blocks) against the debian-docs package labels,
  on pages with a <pre> whose label magika knows.
Last line: RESULT key=value ...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if not __package__:  # run as `python bench/extract.py`: the repo, not bench/ (whose dedup.py shadows dedup/), leads
    sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from lxml import html as lxml_html  # noqa: E402

from bench import shared_pages  # noqa: E402
from bench.smoke import use_smoke_pages  # noqa: E402
from ledger.drop import Drop  # noqa: E402
from transforms.code_lang import CodeLangConfig, CodeLangFn, main_language  # noqa: E402
from transforms.extract_page import ExtractConfig, extract_code_page  # noqa: E402

# debian-docs package labels -> magika labels, for the languages magika knows
MAGIKA_NAMES = {"SQL": "sql", "OCaml": "ocaml", "Haskell": "haskell", "Rust": "rust", "Java": "java",
                "Pascal": "pascal", "Groovy": "groovy", "MATLAB/Octave": "matlab", "CMake": "cmake", "Ruby": "ruby",
                "Erlang": "erlang", "Scala": "scala", "Objective-C": "objectivec", "C++": "cpp", "Prolog": "prolog",
                "C": "c", "JavaScript": "javascript", "PHP": "php", "Common Lisp": "lisp", "Shell": "shell",
                "CoffeeScript": "coffeescript", "Lua": "lua", "R": "r", "Go": "go"}
_TOKEN_RE = re.compile(r"\w+")
_MARKS_RE = re.compile(r"[*_#`>|]+")


def pre_blocks(html: str) -> list[str]:
    """The reference: every outermost <pre>'s text (<br> as newline), line ends stripped, blank edges dropped."""
    try:
        tree = lxml_html.document_fromstring(html.encode("utf-8", errors="replace"),
                                             parser=lxml_html.HTMLParser(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - an unparsable page has no reference blocks
        return []
    blocks = []
    for pre in tree.iter("pre"):
        if next(pre.iterancestors("pre"), None) is not None:
            continue
        for br in pre.iter("br"):
            br.tail = "\n" + (br.tail or "")
        text = normalise("".join(pre.itertext()))
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) >= 2 and not all(line.strip().isdigit() for line in lines):
            blocks.append(text)
    return blocks


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def fidelity(pages: list[dict], outputs: list[str]) -> tuple[int, int]:
    found = total = 0
    for page, out in zip(pages, outputs, strict=True):
        out = normalise(out or "")
        for block in page["pre"]:
            total += 1
            found += block in out
    return found, total


def flat(text: str) -> str:
    return " ".join(_MARKS_RE.sub("", text or "").split()).lower()


def snippet_scores(pages: list[dict], outputs: list[str]) -> tuple[float, float]:
    with_hits = with_total = without_hits = without_total = 0
    for page, out in zip(pages, outputs, strict=True):
        text = flat(out)
        for snippet in page["with"]:
            with_total += 1
            with_hits += flat(snippet) in text
        for snippet in page["without"]:
            without_total += 1
            without_hits += flat(snippet) not in text
    return with_hits / max(1, with_total), without_hits / max(1, without_total)


def token_f1(truth: str, got: str) -> float:
    t, g = Counter(_TOKEN_RE.findall(truth.lower())), Counter(_TOKEN_RE.findall((got or "").lower()))
    common = sum((t & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def run_ours(pages: list[dict], config: ExtractConfig) -> tuple[list, float]:
    start = time.perf_counter()
    results = [extract_code_page(p["html"], p["url"], config) for p in pages]
    return results, time.perf_counter() - start


def run_trafilatura(pages: list[dict], fmt: str) -> tuple[list[str], float]:
    import trafilatura

    start = time.perf_counter()
    texts = [trafilatura.extract(p["html"], url=p["url"], output_format=fmt) or "" for p in pages]
    return texts, time.perf_counter() - start


@dataclass
class PeerRun:
    """A peer's outputs, or why there are none: `ok`, `skipped` (no interpreter), `stall`, `failed`, `no_text`."""

    status: str
    texts: list[str] | None = None
    seconds: float = 0.0


def run_datatrove(pages: list[dict], timeout_s: float) -> PeerRun:
    """datatrove's extractor on `pages` in the peer interpreter, at most `timeout_s`; a result only if it worked."""
    python = os.environ.get("SYNCODE_PEER_PYTHON", str(REPO / ".bench-venv" / "bin" / "python"))
    if not Path(python).exists():
        print(f"datatrove peer interpreter {python} not found (run bench/setup_peers.sh or set SYNCODE_PEER_PYTHON)")
        return PeerRun("skipped")
    payload = "".join(json.dumps({"html": p["html"]}) + "\n" for p in pages)
    try:
        proc = subprocess.run([python, str(REPO / "bench" / "peer_datatrove_extract.py")], input=payload,
                              capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "PYTHONPATH": ""})
    except subprocess.TimeoutExpired:
        print(f"datatrove peer STALLED: no answer for {len(pages)} pages within {timeout_s:.0f} s; no figure reported")
        return PeerRun("stall")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or len(rows) != len(pages):
        print(f"datatrove peer failed (exit {proc.returncode}, {len(rows)} of {len(pages)} pages): "
              f"{proc.stderr[-2000:]}")
        return PeerRun("failed")
    errors = Counter(r["error"] for r in rows if r.get("error"))
    with_text = sum(1 for r in rows if r["text"].strip())
    print(f"datatrove peer: text on {with_text} of {len(rows)} pages; errors {dict(errors.most_common(3))}")
    if not with_text:  # every page empty: the peer did not run (an import error, a timeout per page), not a score
        return PeerRun("no_text")
    return PeerRun("ok", [r["text"] for r in rows], sum(r["seconds"] for r in rows))


def text_of(result) -> str:
    return "" if isinstance(result, Drop) else result.markdown


def codelang_accuracy(pages: list[dict], results: list, config: CodeLangConfig | None = None) -> tuple[float, int]:
    fn = CodeLangFn(config or CodeLangConfig())
    fn.setup()
    hits = total = 0
    confusion: Counter = Counter()
    for page, result in zip(pages, results, strict=True):
        want = MAGIKA_NAMES.get(page["label"].get("programming_language", ""))
        if not want or not page["pre"]:
            continue
        code = [] if isinstance(result, Drop) else result.code_blocks
        blocks = [b.text for b in code]
        got, _ = main_language(blocks, *fn.label_blocks(blocks, [b.lang_hint for b in code]))
        total += 1
        hits += got == want
        if got != want:
            confusion[(want, got or "-")] += 1
    print("codelang misses (label, ours):", confusion.most_common(12))
    return hits / max(1, total), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debian-pages", type=int, default=400, help="debian-docs pages sampled (seed 7) of 2920")
    parser.add_argument("--eval-pages", type=int, default=None, help="trafilatura-eval pages (default: all)")
    parser.add_argument("--no-datatrove", action="store_true")
    parser.add_argument("--peer-timeout-s", type=float, default=3600.0,
                        help="time limit of the datatrove peer run; past it the peer is reported as a stall")
    parser.add_argument("--smoke", action="store_true",
                        help="the 12 real pages of tests/data/bench/shared, the peer limited to 60 s: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        use_smoke_pages()
        args.debian_pages, args.peer_timeout_s = None, min(args.peer_timeout_s, 60.0)
    shared_pages.require_shared()
    # the extractor as the stage runs it, but without the stage's length floor (too_short is a seed policy, and
    # trafilatura has none): pages under ExtractConfig().min_text_chars are counted separately below
    config = ExtractConfig(min_text_chars=0)
    debian = shared_pages.debian_docs(args.debian_pages)
    evalpages = shared_pages.trafilatura_eval(args.eval_pages)
    articles = shared_pages.article_benchmark()
    for page in debian + evalpages:
        page["pre"] = pre_blocks(page["html"])
    code_eval = [p for p in evalpages if p["pre"]]
    print(f"pages: debian-docs {len(debian)} (sampled, seed 7), trafilatura-eval {len(evalpages)} "
          f"({len(code_eval)} with <pre> blocks), article-benchmark {len(articles)}"
          + (f" [smoke: {shared_pages.SHARED}]" if args.smoke else ""))

    ours_deb, t_ours_deb = run_ours(debian, config)
    ours_eval, t_ours_eval = run_ours(evalpages, config)
    ours_art, _ = run_ours(articles, config)
    md_deb, t_md_deb = run_trafilatura(debian, "markdown")
    md_eval, _ = run_trafilatura(evalpages, "markdown")
    txt_eval, t_txt_eval = run_trafilatura(evalpages, "txt")
    txt_art, _ = run_trafilatura(articles, "txt")
    code_pages = debian + code_eval
    peer = PeerRun("skipped") if args.no_datatrove else run_datatrove(code_pages, args.peer_timeout_s)
    dt_texts, t_dt = peer.texts, peer.seconds

    eval_index = {id(p): i for i, p in enumerate(evalpages)}
    ours_code_eval = [text_of(ours_eval[eval_index[id(p)]]) for p in code_eval]
    md_code_eval = [md_eval[eval_index[id(p)]] for p in code_eval]
    f_deb, n_deb = fidelity(debian, [text_of(r) for r in ours_deb])
    f_ev, n_ev = fidelity(code_eval, ours_code_eval)
    tf_deb, _ = fidelity(debian, md_deb)
    tf_ev, _ = fidelity(code_eval, md_code_eval)
    dt_found = dt_found_deb = 0
    if dt_texts is not None:
        dt_found_deb, _ = fidelity(debian, dt_texts[: len(debian)])
        dt_found = dt_found_deb + fidelity(code_eval, dt_texts[len(debian):])[0]
    total, d = n_deb + n_ev, max(1, n_deb)
    print(f"<pre> blocks: debian-docs {n_deb}, trafilatura-eval {n_ev}")
    print(f"code fidelity    ours: debian {f_deb / d:.3f} eval {f_ev / max(1, n_ev):.3f} | trafilatura md: "
          f"debian {tf_deb / d:.3f} eval {tf_ev / max(1, n_ev):.3f}"
          + (f" | datatrove: debian {dt_found_deb / d:.3f}" if dt_texts is not None else ""))

    with_found, without_absent = snippet_scores(evalpages, [text_of(r) for r in ours_eval])
    t_with, t_without = snippet_scores(evalpages, txt_eval)
    t_md_with, t_md_without = snippet_scores(evalpages, md_eval)
    print(f"trafilatura-eval ours: with {with_found:.3f} without {without_absent:.3f} | trafilatura txt: with "
          f"{t_with:.3f} without {t_without:.3f} | trafilatura md: with {t_md_with:.3f} without {t_md_without:.3f}")
    f1 = [token_f1(p["body"], text_of(r)) for p, r in zip(articles, ours_art, strict=True)]
    tf1 = [token_f1(p["body"], t) for p, t in zip(articles, txt_art, strict=True)]
    article_f1, t_article_f1 = sum(f1) / len(f1), sum(tf1) / len(tf1)
    print(f"article-benchmark token F1: ours {article_f1:.3f} trafilatura txt {t_article_f1:.3f}")
    accuracy, n_lang = codelang_accuracy(debian, ours_deb)
    print(f"codelang accuracy {accuracy:.3f} on {n_lang} debian-docs pages with <pre> and a magika-known label")
    drops = Counter(r.reason for r in ours_deb + ours_eval + ours_art if isinstance(r, Drop))
    floor = ExtractConfig().min_text_chars
    short = sum(1 for r in ours_deb + ours_eval + ours_art if not isinstance(r, Drop) and len(r.markdown) < floor)
    print(f"our drops: {dict(drops)}; pages the stage would drop as too_short (< {floor} chars): {short}")
    speed = (len(debian) / t_ours_deb) / (len(debian) / t_md_deb)
    print(f"speed on debian-docs: ours {len(debian) / t_ours_deb:.1f} pages/s, trafilatura md "
          f"{len(debian) / t_md_deb:.1f} pages/s (ratio {speed:.2f}); eval pages: ours "
          f"{len(evalpages) / t_ours_eval:.1f}/s, trafilatura txt {len(evalpages) / t_txt_eval:.1f}/s"
          + (f"; datatrove {len(code_pages) / t_dt:.1f}/s" if t_dt else ""))
    dt_value = f"{dt_found / max(1, total):.3f}" if dt_texts is not None else "nan"
    print(f"RESULT code_fidelity={(f_deb + f_ev) / max(1, total):.3f} "
          f"trafilatura_code_fidelity={(tf_deb + tf_ev) / max(1, total):.3f} "
          f"datatrove_code_fidelity={dt_value} with_found={with_found:.4f} without_absent={without_absent:.4f} "
          f"article_f1={article_f1:.4f} trafilatura_article_f1={t_article_f1:.4f} codelang_accuracy={accuracy:.3f} "
          f"code_fidelity_debian={f_deb / d:.3f} code_fidelity_eval={f_ev / max(1, n_ev):.3f} "
          f"trafilatura_with_found={t_with:.4f} trafilatura_without_absent={t_without:.4f} "
          f"speed_ratio_vs_trafilatura={speed:.2f} pages_debian={len(debian)} pages_eval={len(evalpages)} "
          f"datatrove_status={peer.status}")


if __name__ == "__main__":
    sys.exit(main())
