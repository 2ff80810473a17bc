"""Group commit: requests that arrive while another request's transaction runs share the next transaction.

One thread at a time leads. It takes its own request and the others waiting (up to `limit` in all, in the order
they came) and hands them to `together`, which runs them one after another in one transaction with one commit.
The others sleep meanwhile; each is woken with its own result, after that commit. When the leader is done, it
wakes the first request that came while it worked to lead the next group, so no request waits for more than the
group ahead of it and its own.

A group of one runs `alone`, as it would without any of this. When `together` cannot store a group (it returns
None: one request of it failed, so nothing of it was stored), every request of the group runs `alone`, which
retries and raises its own error for its own caller.

Databases do the same for their log (PostgreSQL's `commit_delay`, MySQL's binary log group commit): under load a
commit and its transaction's overheads are paid once a group. Nothing here knows of Flask or of the database: the
two callables do.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

W = TypeVar("W")
R = TypeVar("R")

_WAITING, _LEAD, _DONE, _ALONE = "waiting", "lead", "done", "alone"


class _Ticket(Generic[W, R]):
    """One request in the queue: its work, and what the leader says of it."""

    __slots__ = ("work", "state", "result", "woken")

    def __init__(self, work: W):
        self.work = work
        self.state = _WAITING
        self.result: R | None = None
        self.woken = threading.Event()

    def wake(self, state: str, result: R | None = None) -> None:
        self.state, self.result = state, result
        self.woken.set()


class GroupCommit(Generic[W, R]):
    """Run concurrent requests in shared transactions (see above). `limit` 1 runs every request alone."""

    def __init__(self, together: Callable[[list[W]], list[R] | None], alone: Callable[[W], R], limit: int):
        if limit < 1:
            raise ValueError("a group holds at least one request")
        self._together, self._alone, self.limit = together, alone, limit
        self._lock = threading.Lock()
        self._waiting: list[_Ticket] = []
        self._leading = False

    def submit(self, work: W) -> R:
        """The result of `work`, once the transaction that stored it has committed."""
        if self.limit == 1:
            return self._alone(work)
        ticket: _Ticket[W, R] = _Ticket(work)
        with self._lock:
            self._waiting.append(ticket)
            lead, self._leading = not self._leading, True
        if not lead:
            ticket.woken.wait()
            if ticket.state == _DONE:
                return ticket.result  # type: ignore[return-value]
            if ticket.state == _ALONE:
                return self._alone(work)
        return self._lead(ticket)

    def _lead(self, ticket: _Ticket[W, R]) -> R:
        with self._lock:
            self._waiting.remove(ticket)
            others = self._waiting[: self.limit - 1]
            del self._waiting[: self.limit - 1]
        results: list[R] | None = None
        try:
            if not others:
                return self._alone(ticket.work)  # still leading: whoever comes meanwhile forms the next group
            results = self._together([ticket.work] + [other.work for other in others])
        finally:
            stored = results is not None and len(results) == 1 + len(others)
            for n, other in enumerate(others, start=1):
                if stored:
                    other.wake(_DONE, results[n])  # type: ignore[index]
                else:
                    other.wake(_ALONE)
            with self._lock:
                if self._waiting:
                    self._waiting[0].wake(_LEAD)  # it takes itself out of the queue when it leads
                else:
                    self._leading = False
        if results is None:
            return self._alone(ticket.work)  # the group failed: each goes alone, the others on their own threads
        if not stored:
            raise RuntimeError(f"a group of {1 + len(others)} requests got {len(results)} results")
        return results[0]
