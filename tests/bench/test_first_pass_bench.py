"""bench/first_pass_text.py runs as bench/README.md writes it, with or without its peer (selectolax) installed."""

from __future__ import annotations

import importlib.util

from tests.bench.bench_run import documented_keys, result, run_bench
from tests.conftest import REPO

SCRIPT = str(REPO / "bench" / "first_pass_text.py")


def test_smoke_as_a_script_from_anywhere(tmp_path):
    keys = result(run_bench([SCRIPT, "--smoke"], cwd=tmp_path))
    assert list(keys) == documented_keys("pages resiliparse_pages_per_s")
    assert keys["pages"] == "10"
    assert float(keys["resiliparse_pre_lines"]) > 0 and float(keys["resiliparse_article_recall"]) > 0
    has_peer = importlib.util.find_spec("selectolax") is not None
    assert keys["selectolax_status"] == ("ok" if has_peer else "skipped")
    assert (keys["selectolax_pre_lines"] == "nan") is not has_peer


def test_smoke_as_a_module():
    assert result(run_bench(["-m", "bench.first_pass_text", "--smoke"], cwd=REPO))["pages"] == "10"


def test_the_reference_blocks_come_from_lxml_not_from_the_peer():
    from bench.first_pass_text import pre_blocks

    html = "<pre>a = 1<br>b = 2\n\n  c = 3  </pre><pre>one line</pre><pre><pre>x\ny</pre></pre>"
    assert pre_blocks(html) == [["a = 1", "b = 2", "c = 3"], ["x", "y"]]
