"""A key planted in a real code page never reaches the seeds, the audit rows, the logs, the LLM or the pairs."""

from __future__ import annotations

import io
import subprocess
import sys
import typing

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ledger.records import Question, Seed
from tests.conftest import REPO
from transforms.generate import SynthConfig

AWS = "AKIAZ7QWERTYUIOP1234"
# fake keys, built by concatenation so no literal here looks like a live key to a secret scanner
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8rT5vW2kHn"  # 42 characters, as in issue 12
GITHUB = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
DB_PASSWORD = "Tr0ub4dor" + "&3xq"
STRIPE = "sk_" + "live_" + "51HqLyjWDarjtT1zdp7dcXyZ"
TWILIO = "SK" + "fedcba9876543210" * 2
SENDGRID = "SG." + "pQ7vfQFYQlKU0ufo8x5d1A" + "." + "XwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"
HF = "hf_" + "ZyXwVuTsRqPoNmLkJiHgFeDcBaZyXwVuTs"
NPM = "npm_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
PYPI = "pypi-" + "AgEIcHlwaS5vcmc" + "CJDk3NGQxZjg1LWE3MjctNGQ5Ni1hMjQ5LTQwOWQ3MDMzNTNjZAACKjM"
GCP = "AIza" + "SyB-1qWeRtYuIoPaSdFgHjKlZxCvBnM1234"
AZURE = "Xby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw" + "=="
EMAIL = "planted.person@example.com"
SECRETS = (AWS, AWS_SECRET, GITHUB, DB_PASSWORD, STRIPE, TWILIO, SENDGRID, HF, NPM, PYPI, GCP, AZURE, EMAIL)
PLACEHOLDERS = ("<AWS_KEY>", "<AWS_SECRET>", "<GITHUB_TOKEN>", "<PASSWORD>", "<STRIPE_KEY>", "<TWILIO_KEY>",
                "<SENDGRID_KEY>", "<HF_TOKEN>", "<NPM_TOKEN>", "<PYPI_TOKEN>", "<GCP_KEY>", "<AZURE_KEY>", "<EMAIL>")
PLANT = (f"<p>Contact {EMAIL} for the deployment credentials.</p>"
         f"<pre>export AWS_ACCESS_KEY_ID={AWS}\nexport GITHUB_TOKEN={GITHUB}\ncargo build --release\n</pre>"
         f"<pre>[default]\naws_access_key_id=\"{AWS}\"\naws_secret_access_key=\"{AWS_SECRET}\"\n"
         f"database:\n  password: '{DB_PASSWORD}'\nSTRIPE_API_KEY={STRIPE}\nTWILIO_API_KEY={TWILIO}\n"
         f"SENDGRID_API_KEY={SENDGRID}\nHF_TOKEN={HF}\n//registry.npmjs.org/:_authToken={NPM}\n"
         f"TWINE_PASSWORD={PYPI}\nGOOGLE_API_KEY={GCP}\n"
         f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={AZURE}\n</pre>")


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
    placeholders = sum(s["text"].count(p) for s in seeds for p in PLACEHOLDERS)
    assert placeholders >= len(seeds) and sum(s["scrubbed"] for s in seeds) >= placeholders
    assert any(all(p in s["text"] for p in PLACEHOLDERS) for s in seeds), "every kind is replaced on a page"
    for path in out.rglob("*"):
        if path.is_file():
            _assert_clean(path.read_bytes().decode("utf-8", errors="replace"))
            if path.suffix == ".parquet":
                _assert_clean(str(pq.read_table(path).to_pylist()))
    _assert_clean(proc.stdout + proc.stderr)


def _blank(record_type, **values):
    """A record of `record_type` with empty values of the right types, then the given ones."""
    empty = {str: "", int: 0, float: 0.0, bool: False}
    hints = typing.get_type_hints(record_type)
    return record_type(**{**{n: empty.get(hints[n], None) for n in record_type._fields}, **values})


def test_llm_prompts_and_pairs_built_from_the_seeds_are_clean(run):
    """What the real stage DoFns would send for every seed, with a worst-case model that echoes its whole prompt."""
    from prompts.render import load_prompt, load_taxonomy
    from transforms.generate import GenerateQuestionsFn, GenerateResponsesFn
    from transforms.llm_client import ChatResult

    out, _ = run
    synth = SynthConfig()
    ask = GenerateQuestionsFn("GenerateQuestions", synth.roles.question, synth, None)
    answer = GenerateResponsesFn("GenerateResponses", synth.roles.response, synth, None)
    for fn in (ask, answer):
        fn.prompt, fn.taxonomy, fn.model = load_prompt(fn.role_name, fn.role.prompt_version), load_taxonomy(), "m"
    prompts, pairs = [], []
    for row in pq.read_table(out / "seeds").to_pylist():
        seed = Seed(**row)
        prompt = "\n".join(m["content"] for m in ask.request(seed).messages)
        question = _blank(Question, id="q", seed_id=seed.id, url=seed.url, instruction=prompt)
        reply = "\n".join(m["content"] for m in answer.request((question, 0)).messages)
        prompts += [prompt, reply]
        pairs.append(answer.decide((question, 0), ChatResult(reply, "stop", "m", 1, 1)))
    assert prompts and pairs
    _assert_clean("\n".join(prompts) + str(pairs))
