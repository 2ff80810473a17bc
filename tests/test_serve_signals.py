"""`surveyd serve` stops in order on SIGTERM and on SIGINT, even when started with SIGINT ignored, as a shell
starts a background job (`surveyd serve &`): Python then never raises KeyboardInterrupt by itself."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import free_port
from tests.live import wait_until


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_in_order_on_sigint_and_sigterm_even_with_sigint_ignored(tmp_path, sent):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    env.update(SURVEYD_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}", SURVEYD_SECRET_KEY="signals-secret-0123",
               SURVEYD_SANDBOX="1")
    process = subprocess.Popen([sys.executable, "-m", "surveyd.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=_ignore_sigint)
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{port}") or process.poll() is not None, timeout=60,
                   what="serve answering /healthz")
        process.send_signal(sent)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGABRT)  # its faulthandler shows where it waits
            output, _ = process.communicate(timeout=30)
            pytest.fail(f"serve did not stop on {sent.name}:\n{output[-20000:]}")
    assert process.returncode == 0, output[-5000:]
    assert f"{sent.name}: stopping" in output
