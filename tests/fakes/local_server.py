"""What every local fake provider shares: an HTTP server on a free port of 127.0.0.1, run from a daemon
thread, with keep-alive connections tracked so that stop() leaves no handler thread behind."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHandler(BaseHTTPRequestHandler):
    """A keep-alive request handler that registers its connection with its fake and logs nothing."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the providers' pooled clients expect

    @property
    def fake(self) -> Any:
        """The fake this server belongs to."""
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this, Nagle plus the client's delayed
        # ACK adds ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def reply_json(self, status: int, payload: Any, headers: dict[str, str] | None = None,
                   content_type: str = "application/json") -> None:
        """Answer with a JSON body; a client that already hung up is no error."""
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up (its read timeout fired during delay_after_store) or stop() cut it off.
            self.close_connection = True


class LocalServer:
    """A fake provider's server: `with Fake() as fake:` serves on 127.0.0.1 until the block ends."""

    handler_class: type[FakeHandler] = FakeHandler
    thread_name = "fake-provider"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._delay, self._delays_left = 0.0, None

    def start(self):
        """Listen on a free port of 127.0.0.1 and serve from a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class)
        server.daemon_threads = True
        server.block_on_close = False  # a handler told to stall (or long-polling) must not hold up stop()
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._on_start()
        threading.Thread(target=server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every kept-alive connection so no handler thread lingers."""
        if self._server is None:
            return
        self._on_stop()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server = None

    def delay_after_store(self, seconds: float, n: int | None = None) -> None:
        """Store each message sent, then wait before answering (the next n sends, or all if n is None)."""
        with self._lock:
            self._delay, self._delays_left = seconds, n

    def _take_delay(self) -> float:
        """How long the send being answered waits first; each call uses up one of the n delayed sends."""
        with self._lock:
            if self._delay <= 0 or self._delays_left == 0:
                return 0.0
            if self._delays_left is not None:
                self._delays_left -= 1
            return self._delay

    def _on_start(self) -> None:
        """Called before serving begins."""

    def _on_stop(self) -> None:
        """Called before the server shuts down: release handlers that are waiting."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Where the client under test is pointed."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"
