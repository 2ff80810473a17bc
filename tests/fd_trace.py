"""Who closed a file descriptor: an opt-in trace (SURVEYD_TRACE_FDS=1) for hunting a stray close in the suite.

Records, per descriptor number, the last few closes made through os.close, os.dup2 (which closes its target),
socket objects and waitress's file wrappers, with the thread, the test and the stack. Closes inside C code
(SQLite, libpq, FileIO) are not seen; the trace says so when it has nothing for a number.
"""
from __future__ import annotations

import collections
import os
import socket
import threading
import time
import traceback

ENABLED = os.environ.get("SURVEYD_TRACE_FDS") == "1"
_closes: dict[int, collections.deque] = collections.defaultdict(lambda: collections.deque(maxlen=4))
current_test = ""


def _note(fd: int, how: str) -> None:
    if isinstance(fd, int) and fd >= 0:
        stack = "".join(traceback.format_stack(limit=10)[:-2])
        _closes[fd].append((time.monotonic(), threading.current_thread().name, current_test, how, stack))


def history(fd: int) -> str:
    """The recorded closes of this number, oldest first."""
    if not ENABLED:
        return "(run with SURVEYD_TRACE_FDS=1 to see who closed it)"
    seen = list(_closes.get(fd, ()))
    if not seen:
        return "(no close of it through Python: a C library closed it)"
    return "\n".join(f"-- {how} at {at:.3f} in thread {thread} during {test}\n{stack}"
                     for at, thread, test, how, stack in seen)


def install() -> None:
    """Wrap the closing calls (once)."""
    if not ENABLED or getattr(os.close, "_traced", False):
        return
    real_close, real_dup2 = os.close, os.dup2

    def close(fd):
        _note(fd, "os.close")
        return real_close(fd)

    def dup2(fd, fd2, inheritable=True):
        _note(fd2, "os.dup2 target")
        return real_dup2(fd, fd2, inheritable)

    close._traced = True
    os.close, os.dup2 = close, dup2
    real_socket_close = socket.socket._real_close

    def socket_close(self, _ss=socket._socket.socket):
        _note(self.fileno(), "socket close")
        return real_socket_close(self, _ss)

    socket.socket._real_close = socket_close
    real_detach = socket.socket.detach

    def detach(self):
        _note(self.fileno(), "socket detach (its owner closes it now)")
        return real_detach(self)

    socket.socket.detach = detach
