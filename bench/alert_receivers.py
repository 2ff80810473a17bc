"""The agents' providers for bench/alert_latency.py: an SMTP server and a Slack webhook, each in a process of its own.

Both stamp every message with time.time() the moment they hold all of it (the SMTP server before its
250 reply to DATA, the Slack receiver before its 200), and keep the text that names the alert: the
email's Subject ("Bench 0042 gave 2/10 on Bench NPS") and the Slack POST's JSON body. They answer
"count", "received" and "stop" over a pipe (common.PipedProcess).
"""
from __future__ import annotations

import socket
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common


def _serve_pipe(pipe, received: list, lock: threading.Lock, extra=dict) -> None:
    """Answer the parent's commands until "stop": the count so far, or every (time, text) and extra facts."""
    try:
        while (command := pipe.recv()) != "stop":
            with lock:
                if command == "count":
                    pipe.send(len(received))
                elif command == "received":
                    pipe.send({"messages": list(received), **extra()})
    except (KeyboardInterrupt, EOFError):
        pass


def _smtp_main(pipe) -> None:
    """Serve tests.fakes.smtp_server.FakeSmtp, recording (receive time, Subject) of each message."""
    from tests.fakes.smtp_server import FakeSmtp

    fake = FakeSmtp().start()
    received: list[tuple[float, str]] = []
    lock = threading.Lock()
    parser = BytesHeaderParser(policy=default_policy)
    store = fake._store

    def timed_store(mail) -> None:
        at = time.time()  # the whole message is here; the 250 reply follows
        with lock:
            received.append((at, str(parser.parsebytes(mail.data)["Subject"])))
        store(mail)

    fake._store = timed_store
    pipe.send((fake.host, fake.port))
    try:
        _serve_pipe(pipe, received, lock, lambda: {"connections": fake.connections})
    finally:
        fake.stop()


class _SlackHandler(BaseHTTPRequestHandler):
    """Takes a Slack incoming-webhook POST and answers 200 "ok", as Slack does."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """No Nagle delay on the answer (headers and body are two writes)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # the stdlib's name
        """Record the time and the whole body (a digest names its alerts in the blocks), then answer."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.received.append((at, body.decode("utf-8", "replace")))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args) -> None:  # the stdlib's name
        """Quiet."""


def _slack_main(pipe) -> None:
    """Serve the Slack stand-in on a free port of 127.0.0.1 from a ThreadingHTTPServer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackHandler)
    server.daemon_threads = True
    server.received, server.lock = [], threading.Lock()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(server.server_address[1])
    try:
        _serve_pipe(pipe, server.received, server.lock)  # type: ignore[attr-defined]
    finally:
        server.shutdown()


class SmtpRecorder(common.PipedProcess):
    """FakeSmtp (aiosmtpd, plain text) in a child process, keeping each message's receive time and Subject."""

    def __init__(self) -> None:
        super().__init__(_smtp_main, "fake-smtp")
        self.host, self.port = self.ready


class SlackRecorder(common.PipedProcess):
    """A Slack incoming-webhook stand-in in a child process, keeping each POST's receive time and body."""

    def __init__(self) -> None:
        super().__init__(_slack_main, "fake-slack")
        self.url = f"http://127.0.0.1:{self.ready}/services/bench"


def start(bench: common.Bench) -> tuple[SmtpRecorder, SlackRecorder]:
    """Both receivers, stopped when the bench ends."""
    receivers = SmtpRecorder(), SlackRecorder()
    for receiver in receivers:
        bench.own(receiver.process)
        bench._undo.append(receiver.stop)
    return receivers
