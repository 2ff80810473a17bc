"""The live-server harness itself: a waitress server stops without pulling a closed trigger under a request."""
from __future__ import annotations

import logging
import threading

import requests
from waitress import create_server

from tests.live import _trigger_files, start_waitress, stop_waitress, wait_until


def test_stop_waitress_lets_the_request_in_flight_finish_before_it_closes_anything(caplog):
    entered, release = threading.Event(), threading.Event()
    seen: dict = {}

    def app(environ, start_response):
        entered.set()
        release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server, serving = start_waitress(app, 0, threads=2)
    client = threading.Thread(target=lambda: seen.update(
        response=requests.get(f"http://127.0.0.1:{server.effective_port}/", timeout=30)))
    client.start()
    assert entered.wait(30)
    caplog.set_level(logging.WARNING, logger="waitress")
    stopping = threading.Thread(target=stop_waitress, args=(server, serving))
    stopping.start()
    # Let the request finish only once the stop is under way: the task threads are told to end, or (the
    # order this test guards against) the loop has already closed the sockets and the trigger.
    wait_until(lambda: server.task_dispatcher.stop_count > 0 or server.trigger._closed, what="the stop")
    assert not server.stop_event.is_set()  # the loop is told to stop only once the tasks are done
    seen["trigger_open"] = not server.trigger._closed
    release.set()
    stopping.join(30)
    client.join(30)
    assert seen["trigger_open"], "the trigger was closed while a request was still being served"
    assert seen["response"].status_code == 200 and seen["response"].text == "ok"
    assert not stopping.is_alive() and not serving.is_alive()
    assert server.trigger._closed and not server.task_dispatcher.threads
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def _server_whose_loop_ended():
    """A waitress server as start_waitress makes it, whose loop thread has already ended (none ever ran)."""
    server = create_server(lambda environ, start_response: [], host="127.0.0.1", port=0, threads=1)
    server.stop_event, server.trigger_files = threading.Event(), _trigger_files(server)
    serving = threading.Thread(target=lambda: None)
    serving.start()
    serving.join()
    return server, serving


def test_stop_waitress_stops_a_server_whose_loop_already_ended():
    server, serving = _server_whose_loop_ended()
    stop_waitress(server, serving)
    assert server.trigger._closed and not server.task_dispatcher.threads


def test_a_stray_close_of_the_trigger_fails_the_stop_and_says_who_closed_it():
    import os

    import pytest

    from tests import fd_trace

    # No loop runs: a running one would see the pipe's end of file and close the trigger itself.
    server, serving = _server_whose_loop_ended()
    fd = server.trigger._fds[1]
    os.close(fd)  # a stray close, as some other part of the process might make
    replacement = os.open(os.devnull, os.O_RDONLY)  # and the number is reused by whatever opens next
    try:
        with pytest.raises(AssertionError, match=f"trigger descriptor {fd} .* was closed by something else"):
            stop_waitress(server, serving)
    finally:
        server.trigger._fds = [f for f in server.trigger._fds if f != fd]  # closing must spare the new file
        server.task_dispatcher.shutdown()
        server.close()
        os.fstat(replacement)
        os.close(replacement)
    if fd_trace.ENABLED:
        assert "test_a_stray_close_of_the_trigger" in fd_trace.history(fd)
