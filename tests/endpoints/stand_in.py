"""A stand-in OpenAI-compatible server on 127.0.0.1, in a thread: ``/v1/completions`` and
``/v1/chat/completions`` answered by a script, which may also answer 429, 500 or stall.

The script gets each request (its JSON body and how many requests came before it) and returns the answer's
text or a ``Reply``. The server records every request with its ``Authorization`` header and counts the
requests in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPORTED_MODEL = "stand-in-judge-2026-12-01"
FINGERPRINT = "fp_stand_in"


@dataclass(frozen=True)
class Reply:
    """A scripted answer: ``text`` with HTTP 200, or an error ``status``; ``delay_s`` before answering."""

    text: str = ""
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted failure"
    finish_reason: str = "stop"
    model: str | None = None
    token_ids: list[int] | None = None
    no_choices: bool = False  # a 200 answer without a completion


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]
    authorization: str | None
    index: int


Script = Callable[[dict[str, Any], int], "Reply | str"]


class StandInServer:
    def __init__(self, script: Script, *, reported_model: str = REPORTED_MODEL) -> None:
        self.script = script
        self.reported_model = reported_model
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="openai-stand-in", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StandInServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # stalled answers end now
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, body: dict[str, Any], authorization: str | None) -> tuple[int, Any, Reply]:
        with self._lock:
            index = len(self.received)
            self.received.append(Received(path, body, authorization, index))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            scripted = self.script(body, index)
            reply = scripted if isinstance(scripted, Reply) else Reply(text=scripted)
            if reply.delay_s:
                self._closing.wait(reply.delay_s)
            if reply.status != 200:
                return reply.status, {"error": {"message": reply.error, "type": "scripted"}}, reply
            return 200, self._completion(path, body, reply), reply
        finally:
            with self._lock:
                self.in_flight -= 1

    def _completion(self, path: str, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        model = reply.model or self.reported_model
        usage = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
        common = {"id": "cmpl-test", "created": int(time.time()), "model": model, "usage": usage}
        if path.endswith("/chat/completions"):
            message = {"role": "assistant", "content": reply.text}
            choice = {"index": 0, "message": message, "finish_reason": reply.finish_reason}
            choices = [] if reply.no_choices else [choice]
            return {
                **common,
                "object": "chat.completion",
                "choices": choices,
                "system_fingerprint": FINGERPRINT,
            }
        completion: dict[str, Any] = {
            "index": 0,
            "text": reply.text,
            "finish_reason": reply.finish_reason,
            "logprobs": None,
        }
        if reply.token_ids is not None:
            completion["token_ids"] = reply.token_ids
        return {
            **common,
            "object": "text_completion",
            "choices": [completion],
            "system_fingerprint": FINGERPRINT,
        }

    def completion_requests(self) -> list[Received]:
        return [item for item in self.received if item.path.endswith("completions")]


def _handler(server: StandInServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(
                    200, {"object": "list", "data": [{"id": server.reported_model, "object": "model"}]}
                )
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith(("/completions", "/chat/completions")):
                self._send(404, {"error": {"message": "not found"}})
                return
            status, document, reply = server.answer(self.path, body, self.headers.get("authorization"))
            self._send(status, document, reply.headers)

        def _send(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(document).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): fine
                pass

    return Handler


@contextmanager
def stand_in(script: Script, **options: Any) -> Iterator[StandInServer]:
    server = StandInServer(script, **options).start()
    try:
        yield server
    finally:
        server.stop()
