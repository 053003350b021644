"""The peer: Beam's RunInference with its vLLM chat handler (apache_beam.ml.inference.vllm_inference), same prompts.

The handler always starts its own vLLM server; to point it at the simulated server we only replace
`load_model` with an object that reports the existing server's port. Its batching and its `asyncio.gather` per
batch are Beam's, unchanged. The same two steps as our job: a question per seed (same JSON schema), then N
responses per question.

    python bench/beam_handler_peer.py --seeds DIR --endpoint http://127.0.0.1:PORT/v1 --responses 2 [--batch 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlparse

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.ml.inference.base import RunInference
from apache_beam.ml.inference.vllm_inference import OpenAIChatMessage, VLLMChatModelHandler
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.records import Seed  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from prompts.render import load_prompt, load_taxonomy, parse_json_reply  # noqa: E402


class _ExistingServer:
    """What the handler's load_model returns, for a server that is already running."""

    def __init__(self, port: int):
        self.port = port

    def get_server_port(self) -> int:
        return self.port

    def check_connectivity(self, *args, **kwargs) -> None:
        pass


class ExistingServerChatHandler(VLLMChatModelHandler):
    def __init__(self, model: str, port: int, **batching):
        super().__init__(model, **batching)
        self._port = port

    def load_model(self) -> _ExistingServer:
        return _ExistingServer(self._port)

    def share_model_across_processes(self) -> bool:
        return False


def to_messages(messages: list[dict[str, str]]) -> list[OpenAIChatMessage]:
    return [OpenAIChatMessage(m["role"], m["content"]) for m in messages]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--model", default="sim-gpu-8b")
    parser.add_argument("--responses", type=int, default=2)
    parser.add_argument("--batch", type=int, default=0, help="fixed batch size; 0 = Beam's default batching")
    args = parser.parse_args()
    config = load_config()
    q_role, r_role = config.synth.roles.question, config.synth.roles.response
    question, response, taxonomy = load_prompt("question", q_role.prompt_version), load_prompt(
        "response", r_role.prompt_version), load_taxonomy()
    seeds = [Seed(**r) for r in pq.read_table(args.seeds).to_pylist()]
    port = urlparse(args.endpoint).port
    batching = {"min_batch_size": args.batch, "max_batch_size": args.batch} if args.batch else {}

    def question_messages(seed: Seed):
        return to_messages(question.messages(title=seed.title, text=seed.text[: config.synth.max_seed_chars],
                                             programming_language="the programming language the page is about",
                                             language_name="English", taxonomy=taxonomy.render()))

    def response_messages(result):
        reply = parse_json_reply(result.inference.choices[0].message.content or "") or {}
        text = str(reply.get("question", ""))
        return [to_messages(response.messages(instruction=text, language_name="English"))
                for _ in range(args.responses)] if text else []

    options = PipelineOptions(["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                               "--direct_num_workers=0"])
    with beam.Pipeline(options=options) as p:
        _ = (p | beam.Create(seeds) | "Reshuffle" >> beam.Reshuffle()
             | "QuestionMessages" >> beam.Map(question_messages)
             | "Questions" >> RunInference(ExistingServerChatHandler(args.model, port, **batching), inference_args={
                 "max_tokens": q_role.max_tokens, "temperature": q_role.temperature, "top_p": q_role.top_p,
                 "response_format": question.response_format()})
             | "ResponseMessages" >> beam.FlatMap(response_messages)
             | "Responses" >> RunInference(ExistingServerChatHandler(args.model, port, **batching), inference_args={
                 "max_tokens": r_role.max_tokens, "temperature": r_role.temperature, "top_p": r_role.top_p}))
    print("peer done", flush=True)


if __name__ == "__main__":
    main()
