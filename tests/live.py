"""`surveyd serve` as the outside-client tests drive it: waitress on a free port, the embedded relay,
and an integrator's HTTP client with its own API key."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Iterator

import requests
from flask import Flask

from surveyd.extensions import db
from surveyd.server import relay_chores, start_notifier
from surveyd.services.dispatch.relay import Relay, embedded_relay

FINAL = {"sent", "delivered", "failed", "suppressed", "expired", "answered"}


class Outside:
    """An integrator's HTTP client for the live server."""

    def __init__(self, base: str, key: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body: dict, status: int = 201, **headers: str) -> dict:
        response = self.session.post(self.base + "/api/v1" + path, json=body, headers=headers, timeout=10)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, path: str) -> dict:
        response = self.session.get(self.base + "/api/v1" + path, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def event(self, phone: str | None = None, external_id: str = "cust-1", **contact) -> dict:
        """Fire order.delivered and return its one dispatch."""
        if phone:
            contact["phone"] = phone
        body = self.post("/events", {"touchpoint": "order.delivered", "contact": {"external_id": external_id, **contact}},
                         status=202)
        assert len(body["dispatches"]) == 1, body
        return body["dispatches"][0]

    def settled(self, dispatch_id: int, timeout: float = 20.0) -> dict:
        """The dispatch once it reaches a final state."""
        deadline = time.monotonic() + timeout
        while True:
            dispatch = self.get(f"/dispatches/{dispatch_id}")
            if dispatch["status"] in FINAL or time.monotonic() > deadline:
                return dispatch
            time.sleep(0.1)


@contextlib.contextmanager
def served(app: Flask, port: int, threads: int = 8) -> Iterator[Relay]:
    """Serve the app on 127.0.0.1:port with waitress and run its relay, as `surveyd serve` does, until the block
    ends; yields the relay."""
    server, serving = start_waitress(app, port, threads)
    notifier = start_notifier(app)
    relay = embedded_relay(app, relay_chores())
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()
        notifier.stop()
        stop_waitress(server, serving)
        with app.app_context():
            # Each live app has its own engine: give its pooled connections back, or a long run of
            # these tests exhausts PostgreSQL's max_connections.
            db.session.remove()
            db.engine.dispose()


def wait_until(check, timeout: float = 20.0, what: str = "the condition"):
    """check()'s first truthy answer, looked at every 20 ms; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what} did not come about within {timeout} s"
        time.sleep(0.02)
    return result


def quiesced(relay: Relay) -> None:
    """Return once the relay has made a whole pass since the call and every send and agent notification it
    handed out has ended: whatever the database held as due has been sent, so a duplicate would be in the
    provider's hands now."""
    assert relay.wait_for_passes(2), "the relay made no pass in 30 s"
    notifier = relay.app.extensions.get("surveyd.notifier")
    wait_until(lambda: relay.submitter.pending == 0 and getattr(notifier, "pending", 0) == 0,
               what="the send and notification threads finishing")


def relay_pass(app: Flask) -> None:
    """One pass of a fresh embedded relay of this app, as `serve` runs every poll, then its send threads stop."""
    relay = embedded_relay(app, relay_chores())
    try:
        relay.run_once()
    finally:
        relay.submitter.shutdown()


def start_waitress(app, port: int, threads: int = 8):
    """waitress serving the WSGI app on 127.0.0.1:port (0: any free port) from a thread; (server, thread).

    The thread runs waitress's loop a pass at a time until the server's stop event is set, then closes the
    server's sockets itself. Stopping so never writes to waitress's trigger pipe from another thread.
    """
    from waitress import create_server, wasyncore

    if isinstance(app, Flask) and "SURVEYD" in app.config:
        from surveyd.server import server_threads

        threads = server_threads(app, threads)  # as `serve` sizes it: live inboxes on threads of their own
    server = create_server(app, host="127.0.0.1", port=port, threads=threads)
    server.stop_event = threading.Event()
    server.trigger_files = _trigger_files(server)

    def run() -> None:
        while not server.stop_event.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)
        _close_everything(server)

    serving = threading.Thread(target=run, daemon=True, name=f"waitress-loop-{port}")
    serving.start()
    return server, serving


def _trigger_files(server) -> list[tuple[int, int]]:
    """(descriptor, inode) of each end of the server's trigger pipe, and of the copy its loop reads."""
    fds = [*server.trigger._fds, server.trigger.socket.fd]
    return [(fd, os.fstat(fd).st_ino) for fd in fds]


def assert_trigger_intact(server) -> None:
    """Fail if anything closed the server's trigger pipe behind its back: the descriptor is gone, or its number
    now names another file. Only the server may close it, at stop; a stray close elsewhere in the process
    shows up here, at every stop, instead of once in many runs as EBADF (or as a write into someone's file)."""
    from tests import fd_trace

    for fd, inode in server.trigger_files:
        try:
            now = os.fstat(fd).st_ino
        except OSError as error:
            now = f"closed ({error.strerror})"
        assert now == inode, (f"waitress's trigger descriptor {fd} (pipe inode {inode}) was closed by something "
                              f"else; it is now {now}. Closes of {fd} seen:\n{fd_trace.history(fd)}")


def _close_everything(server) -> None:
    """Close the kept-alive client connections, then the server and its trigger; only from the loop's thread
    (or once it has ended): closing them elsewhere races the select() the loop sits in."""
    for channel in list(server._map.values()):
        if channel is not server and channel is not server.trigger:
            channel.close()
    server.close()


def stop_waitress(server, serving: threading.Thread) -> None:
    """Stop a server started by start_waitress, in an order that leaves no thread holding a closed descriptor.

    First the task threads: each finishes the request it is on while the loop and its trigger are still
    open, because a task's last act is to pull the trigger (wake the loop to flush). Closing the trigger
    under a finishing task made it write to a closed pipe (EBADF) or, once the number was reused, into
    whatever file had it next. Then the loop is told to stop, and it closes its own sockets.
    """
    assert_trigger_intact(server)
    from surveyd.services.alerts.feed import end_all_streams

    end_all_streams()  # open inboxes' streams end, as a stopping server's must
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=10)
    assert not server.task_dispatcher.threads, "a request was still running 10 s after the test ended"
    if serving.is_alive():
        server.stop_event.set()
        serving.join(timeout=10)
    else:
        _close_everything(server)
    assert not serving.is_alive(), "the waitress loop did not end"


def outside_client(app: Flask, base: str) -> Outside:
    """An integrator's client for the served app, with an API key of its own."""
    from surveyd.services.access.api_keys import create_api_key

    with app.app_context():
        _, key = create_api_key("outside")
        db.session.remove()
    return Outside(base, key)
