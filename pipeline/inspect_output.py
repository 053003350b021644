"""`python -m pipeline inspect OUT`: a summary, samples and histograms in the terminal, plus PNG plots and HTML."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from pipeline.corpus_stats import histograms, sample_rows, shard_files
from pipeline.funnel import StageCounts, render_table
from pipeline.manifest import read_manifest, sum_tokens


def _plot_png(title: str, counts: list[tuple[Any, int]]) -> bytes:
    """A horizontal bar chart of value counts, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(v)[:40] for v, _ in counts][::-1]
    values = [n for _, n in counts][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.2))
    ax.barh(labels, values, color="#4c72b0")
    ax.set_title(title)
    ax.set_xlabel("rows")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def summary_rows(manifest: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, shards in manifest.get("shards", {}).items():
        tokens = sum_tokens(shards)
        rows.append([name, len(shards), sum(s["rows"] for s in shards), sum(s["bytes"] for s in shards),
                     " ".join(f"{k}={v}" for k, v in sorted(tokens.items()))])
    return rows


def _text_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


def inspect_output(root: str, report_dir: str | None = None, samples: int = 3) -> str:
    """Print the report and write report_dir/index.html with one PNG per histogram; returns the HTML path."""
    root = root.rstrip("/")
    manifest = read_manifest(root)
    if not manifest:
        raise FileNotFoundError(f"{root}/manifest.json is missing: run a job with --output {root} first")
    out = Path(report_dir or f"{root}/report")
    out.mkdir(parents=True, exist_ok=True)
    header = ["output", "shards", "rows", "bytes", "tokens"]
    print(_text_table(header, summary_rows(manifest)))
    body = [f"<h1>syncode corpus: {html.escape(root)}</h1>", "<h2>Summary</h2>",
            _html_table(header, summary_rows(manifest))]
    for job, entry in manifest.get("jobs", {}).items():
        funnel = [StageCounts(s["stage"], s["in"], s["kept"], s["dropped"]) for s in entry.get("funnel", [])]
        print(f"\n{job} funnel:\n{render_table(funnel)}")
        body.append(f"<h2>{html.escape(job)} funnel</h2><pre>{html.escape(render_table(funnel))}</pre>")
    for name, shards in manifest.get("shards", {}).items():
        paths = shard_files(root, shards)
        for column, counts in histograms(paths).items():
            print(f"\n{name}.{column}:")
            for value, n in counts:
                print(f"  {str(value)[:50]:50s} {n}")
            png = _plot_png(f"{name}: {column}", counts)
            (out / f"{name}-{column}.png").write_bytes(png)
            body.append(f"<h3>{html.escape(name)}: {html.escape(column)}</h3>"
                        f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
        rows = sample_rows(paths, n=samples)
        if rows:
            print(f"\n{name}: {len(rows)} sample row(s)")
            for row in rows:
                for key, value in row.items():
                    print(f"  {key}: {str(value)[:200]!s}")
                print()
            body.append(f"<h2>{html.escape(name)}: samples</h2>" + "".join(
                _html_table(["field", "value"], [[k, v] for k, v in r.items()]) for r in rows))
    page = out / "index.html"
    page.write_text("<!doctype html><meta charset='utf-8'><title>syncode report</title>"
                    "<style>body{font-family:sans-serif;max-width:70em;margin:auto}td{vertical-align:top;"
                    "white-space:pre-wrap}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px}"
                    "</style>" + "\n".join(body))
    print(f"\nreport: {page}")
    return str(page)


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
