"""A key planted in a real code page never reaches the seeds, the audit rows, the logs, the LLM or the pairs."""

from __future__ import annotations

import io
import subprocess
import sys
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.config import LLMRoleConfig
from pipeline.records import Question, Seed
from tests.conftest import REPO

AWS = "AKIAZ7QWERTYUIOP1234"
GITHUB = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
EMAIL = "planted.person@example.com"
SECRETS = (AWS, GITHUB, EMAIL)
PLANT = (f"<p>Contact {EMAIL} for the deployment credentials.</p>"
         f"<pre>export AWS_ACCESS_KEY_ID={AWS}\nexport GITHUB_TOKEN={GITHUB}\ncargo build --release\n</pre>")


def _planted_warc(path) -> None:
    """Every page of the bundled Debian docs sample with the secrets planted before </body>, plus a news page."""
    source = REPO / "sample/warc/debian-docs-sample.warc.gz"
    with open(source, "rb") as fh, open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for record in ArchiveIterator(fh):
            if record.rec_type != "response":
                continue
            html = record.content_stream().read().decode("utf-8", errors="replace")
            html = html.replace("</body>", PLANT + "</body>", 1)
            url = record.rec_headers.get_header("WARC-Target-URI")
            writer.write_record(_response(writer, url, html))
        news = "<html><body><p>The council met on Tuesday and approved the budget.</p></body></html>"
        writer.write_record(_response(writer, f"https://news.example/?token={GITHUB}", news))


def _response(writer: WARCWriter, url: str, html: str):
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode()), http_headers=http)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    warc = tmp / "planted.warc.gz"
    _planted_warc(warc)
    out = tmp / "out"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "seeds", "--input", str(warc), "--output", str(out),
                           "--progress_interval_s", "0.1"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_seeds_dropped_rows_manifest_and_logs_are_clean(run):
    out, proc = run
    seeds = pq.read_table(out / "seeds").to_pylist()
    assert seeds, "the planted pages should survive the cascade"
    assert sum(s["scrubbed"] for s in seeds) >= 3 * len(seeds)
    assert any("<AWS_KEY>" in s["text"] and "<GITHUB_TOKEN>" in s["text"] for s in seeds)
    for path in out.rglob("*"):
        if path.is_file():
            _assert_clean(path.read_bytes().decode("utf-8", errors="replace"))
            if path.suffix == ".parquet":
                _assert_clean(str(pq.read_table(path).to_pylist()))
    _assert_clean(proc.stdout + proc.stderr)


class _EchoingClient:
    """Stands in for the OpenAI client inside the real stage DoFns: records every prompt and, as the worst case,
    answers with the prompt itself, so anything the LLM could see would land in the pairs."""

    def __init__(self):
        self.prompts: list[str] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, model, messages, **_):
        prompt = "\n".join(m["content"] for m in messages)
        self.prompts.append(prompt)
        message = SimpleNamespace(content=prompt)
        choice = SimpleNamespace(message=message, finish_reason="stop")
        return SimpleNamespace(choices=[choice], usage=SimpleNamespace(prompt_tokens=1, completion_tokens=1))


def test_llm_prompts_and_pairs_built_from_the_seeds_are_clean(run):
    import openai

    from prompts.render import load_prompt
    from transforms.generate import GenerateQuestionsFn, GenerateResponsesFn
    from transforms.stage import StageCounters

    out, _ = run
    client = _EchoingClient()
    fns = [GenerateQuestionsFn(LLMRoleConfig(), 6000), GenerateResponsesFn(LLMRoleConfig())]
    for fn, prompt in zip(fns, ("question", "response"), strict=True):
        fn.counters, fn.prompt, fn.client, fn.model, fn._openai = (StageCounters(fn.stage), load_prompt(prompt),
                                                                   client, "m", openai)
    pairs = []
    for row in pq.read_table(out / "seeds").to_pylist():
        question = fns[0].decide(Seed(**row))
        assert isinstance(question, Question)
        pairs.append(fns[1].decide(question))
    assert client.prompts and len(pairs) == len(client.prompts) // 2
    _assert_clean("\n".join(client.prompts) + str(pairs))
