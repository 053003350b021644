"""A fault-injecting OpenAI-compatible server for tests: each request's fault comes from a tag in its prompt.

A seed whose title holds `[[q=FAULT r=FAULT]]` gets FAULT on its question request (q) and on its response requests
(r); the generated question carries the tag on. FAULT is `ok`, or one of 429, 500, 503, slow, reset, badjson,
empty, truncated, unparseable, followed by `-once` (only the first attempt fails) or `-always`. With
`fail_all=503` every request is answered 503, to test failover to another endpoint.

Verification adds two optional fields, `[[q=.. r=.. t=TESTS j=JUDGE]]`: the tests request (t) and the judge request
(j) get those faults, and a few answers of their own: r=mixed (every other response to a prompt is wrong), r=nocode
(no code block); t=none (the question is not testable: it goes to the judge), t=wrong (tests no response passes);
j=tie (every candidate scored alike), j=malformed (a verdict without scores), j=inconsistent (the best scored lowest).
The role of a request is the name of the schema it sends (question, tests, judge), or `response` without one.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAG = re.compile(r"\[\[q=(\S+) r=([^\s\]]+)(?: t=([^\s\]]+))?(?: j=([^\s\]]+))?\]\]")
ROLE_GROUP = {"question": 1, "response": 2, "tests": 3, "judge": 4}


class FaultServer:
    """Runs on 127.0.0.1 in a thread; counts requests, attempts per prompt, and the most requests at once."""

    def __init__(self, slow_s: float = 1.5, fail_all: int | None = None, delay_s: float = 0.0):
        self.slow_s = slow_s
        self.fail_all = fail_all
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.attempts: dict[str, int] = {}
        self.requests = 0
        self.running = 0
        self.max_running = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                self._send(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server.lock:
                    server.requests += 1
                    server.running += 1
                    server.max_running = max(server.max_running, server.running)
                try:
                    server.answer(self, body)
                finally:
                    with server.lock:
                        server.running -= 1

            def _send(self, status: int, payload, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # resets are deliberate
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, handler, body: dict) -> None:
        prompt = body["messages"][-1]["content"]
        schema = (body.get("response_format") or {}).get("json_schema") or {}
        role = schema.get("name", "response") if "response_format" in body else "response"
        is_question = role == "question"
        match = TAG.search(prompt)
        fault = (match.group(ROLE_GROUP[role]) or "ok") if match else "ok"
        key = role + prompt
        with self.lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            attempt = self.attempts[key]
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_all:
            return handler._send(self.fail_all, {"error": {"message": "injected"}})
        kind, _, when = fault.partition("-")
        if kind != "ok" and (when == "always" or attempt == 1):
            if kind in ("429", "500", "503"):
                return handler._send(int(kind), {"error": {"message": f"injected {kind}"}})
            if kind == "slow":
                time.sleep(self.slow_s)
            elif kind == "reset":
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                handler.connection.close()
                handler.close_connection = True
                return None
            elif kind == "badjson":
                return handler._send(200, None, raw=b'{"id": "x", "choices": [ {"message": ')
            elif kind in ("malformed", "inconsistent") and role == "judge":
                n = sum(1 for k in schema["schema"]["properties"] if k.startswith("score_"))
                verdict = {"reason": "injected", "best": 1}
                if kind == "inconsistent":
                    verdict.update({f"score_{i}": 1 if i == 1 else 9 for i in range(1, n + 1)})
                return handler._send(200, completion(body, json.dumps(verdict), "stop"))
            elif kind in ("empty", "truncated", "unparseable"):
                text = {"empty": "", "truncated": "cut off mid", "unparseable": "not json at all"}[kind]
                return handler._send(200, completion(body, text, "length" if kind == "truncated" else "stop"))
        tag = match.group(0) if match else ""
        if is_question:
            testable = not (match and match.group(3) == "none")
            text = json.dumps({"question": f"Write a function that reverses a list. {tag}",
                               "programming_language": "Python", "category": "language_and_concepts",
                               "subcategory": "algorithm_design", "difficulty": "medium", "algorithmic": True,
                               "testable": testable})
        elif role == "tests":
            expected = "[1, 2, 3]" if kind == "wrong" else "[3, 2, 1]"
            text = json.dumps({"entry_point": "reverse",
                               "test_code": f"assert reverse([1, 2, 3]) == {expected}\nassert reverse([]) == []"})
        elif role == "judge":
            n = sum(1 for k in schema["schema"]["properties"] if k.startswith("score_"))
            scores = {f"score_{i}": 7 if kind == "tie" or i == 1 else 4 for i in range(1, n + 1)}
            text = json.dumps({"reason": "Answer 1 is correct and clear.", **scores, "best": 1})
        elif kind == "nocode":
            text = "Reverse it with slicing."
        elif kind == "mixed" and attempt % 2 == 0:
            text = "```python\ndef reverse(xs):\n    return list(xs)\n```"
        else:
            text = "```python\ndef reverse(xs):\n    return xs[::-1]\n```"
        return handler._send(200, completion(body, text, "stop"))


def completion(body: dict, text: str, finish_reason: str) -> dict:
    return {"id": "chatcmpl-fault", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fault-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text.split())),
                      "total_tokens": 10 + max(1, len(text.split()))}}
