"""A real HTTP server around the test app, and a way to fire many requests at the same moment.

Concurrency tests use it so that every request runs in its own thread with its own database
connection, exactly as under a threaded WSGI server in production.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import make_server


@dataclass
class Reply:
    status: int
    body: Any
    text: str


class LiveServer:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(
        self, method: str, path: str, token: str, body: Any = None, headers: dict | None = None
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}/api/v1{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            status = error.code
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Reply(status, parsed, text)

    def at_once(self, calls: list[tuple], *, batch: int | None = None) -> list[Reply]:
        """Run ``calls`` (argument tuples of :meth:`request`) in threads released together.

        With ``batch``, at most that many run at a time (each batch released together).
        """
        results: list[Reply | None] = [None] * len(calls)
        size = batch or len(calls)
        for start in range(0, len(calls), size):
            chunk = list(enumerate(calls))[start : start + size]
            barrier = threading.Barrier(len(chunk))

            def run(index: int, args: tuple, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                results[index] = self.request(*args)

            threads = [threading.Thread(target=run, args=item) for item in chunk]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
        return [r for r in results if r is not None]


@contextmanager
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
