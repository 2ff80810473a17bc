"""A webhook receiver on 127.0.0.1: records every request, answers from a script (200 by default), can
redirect, stall until the test releases it, and serve TLS with a trustme certificate (recording the SNI)."""
from __future__ import annotations

import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.local_server import FakeHandler, LocalServer


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver read it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json_text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class ScriptedAnswer:
    """What the receiver answers one request with."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _ReceiverHandler(FakeHandler):
    def _receive(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.fake._record(ReceivedRequest(self.command, self.path, headers, body))
        self.fake._hold.wait()  # set unless the test called stall(); stop() sets it too
        answer = self.fake._next_answer()
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            # The client gave up (its timeout fired while we stalled) or stop() cut it off.
            self.close_connection = True

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _receive


class HttpReceiver(LocalServer):
    """`with HttpReceiver() as receiver:` a scripted HTTP (or, given a trustme LeafCert, HTTPS) endpoint."""

    handler_class = _ReceiverHandler
    thread_name = "fake-http-receiver"

    def __init__(self, tls_cert: Any = None) -> None:
        super().__init__()
        self._tls_cert = tls_cert
        self._requests: list[ReceivedRequest] = []
        self._answers: deque[ScriptedAnswer] = deque()
        self._server_names: list[str | None] = []
        self._arrived = threading.Condition(self._lock)
        self._hold = threading.Event()
        self._hold.set()

    def _on_start(self) -> None:
        self._hold.set()
        if self._tls_cert is None:
            return
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls_cert.configure_cert(context)
        context.sni_callback = self._note_server_name
        assert self._server is not None
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def _on_stop(self) -> None:
        self._hold.set()  # let stalled handlers finish so none lingers

    def _note_server_name(self, _sslobj: Any, server_name: str | None, _context: Any) -> None:
        with self._lock:
            self._server_names.append(server_name)

    def _record(self, request: ReceivedRequest) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()

    def _next_answer(self) -> ScriptedAnswer:
        with self._lock:
            return self._answers.popleft() if self._answers else ScriptedAnswer()

    def answer(self, status: int = 200, headers: dict[str, str] | None = None, body: bytes | str = b"") -> None:
        """Queue the answer for the next unanswered request; requests beyond the queue get a bare 200."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._answers.append(ScriptedAnswer(status, dict(headers or {}), data))

    def redirect(self, location: str, status: int = 302) -> None:
        """Queue a redirect to location."""
        self.answer(status, {"Location": location})

    def stall(self) -> None:
        """Hold every request after recording it, unanswered, until release() (or stop())."""
        self._hold.clear()

    def release(self) -> None:
        """Let held requests (and later ones) be answered."""
        self._hold.set()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least n requests arrived (True) or timeout passed (False)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= n, timeout)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def server_names(self) -> list[str | None]:
        """The SNI name of each TLS handshake, in order (None when the client sent none)."""
        with self._lock:
            return list(self._server_names)

    @property
    def port(self) -> int:
        """The port served on."""
        if self._server is None:
            raise RuntimeError("HttpReceiver is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """http(s)://127.0.0.1:<port>."""
        scheme = "https" if self._tls_cert is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"
