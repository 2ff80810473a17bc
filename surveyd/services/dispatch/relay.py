"""The relay: a thread that leases due dispatches and hands their ids to tasks, in either mode.

Embedded (no broker): tasks run on a thread pool in this process. Scaled: tasks are Celery
messages run by `surveyd worker` processes on any machine. Relays in several processes are safe
together: leases are taken with SKIP LOCKED on PostgreSQL, and a task only acts on a row it claims.
Other capabilities' periodic work (chores, such as inbound recovery) rides on the same loop; whoever
builds the relay hands them in, so this package imports none of them.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from flask import Flask

from surveyd.extensions import db

log = logging.getLogger("surveyd.relay")


@dataclass
class Chore:
    """Periodic work a relay does beside the outbox: run `work` (in an app context) every `every_seconds`."""

    name: str
    every_seconds: float
    work: Callable[[], object]
    next_run: float = field(default=0.0, compare=False)


def owner_name() -> str:
    """Who holds a lease: host and process, for people reading a stuck row."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_in_app(app: Flask, send_one, row_id, owner: str | None, what: str) -> None:
    """A send task's body, for any outbox: send_one(row_id, owner) inside an app context, never raising; a row
    whose send failed keeps its due time or its lease lapses, and the next pass takes it up again."""
    with app.app_context():
        try:
            send_one(row_id, owner)
        except Exception:
            log.exception("%s %s: send task failed", what, row_id)
            db.session.rollback()
        finally:
            db.session.remove()


def run_send(app: Flask, dispatch_id: int, owner: str) -> None:
    """The body of the send task: one dispatch."""
    from surveyd.services.dispatch.sending import send_one

    run_in_app(app, send_one, dispatch_id, owner, "dispatch")


def run_send_batch(app: Flask, dispatch_ids: list[int], owner: str) -> None:
    """The body of a send task for several dispatches, claimed together and sent one after another."""
    from surveyd.services.dispatch.sending import send_batch

    run_in_app(app, send_batch, dispatch_ids, owner, "dispatches")


def batches(dispatch_ids: list[int], senders: int) -> list[list[int]]:
    """Leased ids cut into send tasks of up to SEND_BATCH, but small enough that each of `senders` gets one: a
    batch's dispatches go out one after another, so fewer tasks than senders would leave providers' time unused."""
    from surveyd.services.dispatch.sending import SEND_BATCH

    size = max(1, min(SEND_BATCH, -(-len(dispatch_ids) // max(1, senders))))
    return [dispatch_ids[first:first + size] for first in range(0, len(dispatch_ids), size)]


class Submitter(Protocol):
    """Where leased ids go."""

    def capacity(self) -> int:
        """How many more ids may be handed out now."""

    def submit_all(self, dispatch_ids: list[int]) -> None:
        """Hand these ids to tasks."""

    def wait_for_capacity(self, timeout: float) -> None:
        """Return when a task may have finished, or after timeout."""

    def shutdown(self) -> None:
        """Stop handing out; let what was started finish."""


class ThreadSubmitter:
    """Embedded mode: tasks run on a pool of threads in this process, each on a batch of ids claimed together."""

    def __init__(self, app: Flask, concurrency: int, owner: str):
        from surveyd.services.dispatch.sending import SEND_BATCH

        self.app, self.owner = app, owner
        self.concurrency = concurrency
        self.limit = concurrency * SEND_BATCH * 2  # a full batch for every thread, and as many again waiting
        self.pending = 0
        self.lock = threading.Lock()
        self.freed = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="surveyd-send")

    def capacity(self) -> int:
        """Keep the pool busy without leasing more than it can start soon."""
        with self.lock:
            return max(0, self.limit - self.pending)

    def submit_all(self, dispatch_ids: list[int]) -> None:
        """Run send tasks on the pool, a batch each."""
        for batch in batches(dispatch_ids, self.concurrency):
            with self.lock:
                self.pending += len(batch)
            self.pool.submit(self._run, batch)

    def _run(self, dispatch_ids: list[int]) -> None:
        try:
            run_send_batch(self.app, dispatch_ids, self.owner)
        finally:
            with self.lock:
                self.pending -= len(dispatch_ids)
            self.freed.set()

    def wait_for_capacity(self, timeout: float) -> None:
        """Wake once half the room is free again, so a pass leases a batch, not one row per finished send (each
        pass is three short write transactions); the pool still has half its queue left to work on meanwhile."""
        deadline = time.monotonic() + timeout
        while self.capacity() < max(1, self.limit // 2) and (left := deadline - time.monotonic()) > 0:
            self.freed.wait(left)
            self.freed.clear()

    def shutdown(self) -> None:
        """Finish the sends already started."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class CelerySubmitter:
    """Scaled mode: each batch of ids becomes a Celery message; the database counts what is in flight."""

    def __init__(self, app: Flask, max_in_flight: int, senders: int = 1):
        self.app = app
        self.celery = app.extensions["celery"]
        self.queue = app.config["SURVEYD"].queue_name
        self.max_in_flight = max_in_flight
        self.senders = senders  # this worker's send threads: what one relay pass should keep busy at least

    def capacity(self) -> int:
        """Leave no more queued than the workers can start within a lease."""
        from surveyd.services.dispatch.outbox import in_flight

        return max(0, self.max_in_flight - in_flight())

    def submit_all(self, dispatch_ids: list[int]) -> None:
        """Publish a send task for each batch; if the broker is down the leases lapse and the rows are handed out
        again."""
        for batch in batches(dispatch_ids, self.senders):
            self.celery.send_task("surveyd.send_dispatches", args=[batch], queue=self.queue)

    def wait_for_capacity(self, timeout: float) -> None:
        """The database says when workers caught up: look again shortly."""
        threading.Event().wait(min(timeout, 0.1))

    def shutdown(self) -> None:
        """Nothing to wait for: the workers own the tasks."""


class Relay(threading.Thread):
    """Once a poll: recover stuck sends, lease what is due, hand it out, lapse unanswered links."""

    def __init__(self, app: Flask, submitter, batch: int = 200, chores: Sequence[Chore] = ()):
        super().__init__(name="surveyd-relay", daemon=True)
        self.app, self.submitter, self.batch = app, submitter, batch
        self.chores = list(chores)
        self.settings = app.config["SURVEYD"]
        self.owner = owner_name()
        self.stopping = threading.Event()
        self.passes = 0  # passes ended so far; wait_for_passes() watches it
        self._pass_ended = threading.Condition()

    def run_once(self) -> tuple[int, int]:
        """One pass: the number of dispatches handed out, and how many there was room for."""
        from surveyd.services.dispatch import outbox

        with self.app.app_context():
            self._do_chores()
            try:
                outbox.recover_stuck()
                room = min(self.batch, self.submitter.capacity())
                ids = outbox.lease_due(self.owner, room, self.settings.queue_lease_seconds)
                self.submitter.submit_all(ids)
                outbox.expire_overdue()
                return len(ids), room
            except Exception:  # the loop must outlive a busy database or a broker hiccup
                log.exception("relay pass failed")
                db.session.rollback()
                return 0, 0
            finally:
                db.session.remove()

    def _do_chores(self) -> None:
        """Run each chore whose time has come; one failing must not stop the dispatch pass that follows."""
        for chore in self.chores:
            if time.monotonic() < chore.next_run:
                continue
            chore.next_run = time.monotonic() + chore.every_seconds
            try:
                chore.work()
            except Exception:
                log.exception("relay chore %s failed", chore.name)
                db.session.rollback()

    def run(self) -> None:
        """Poll until stopped; while work is waiting, go round again as soon as there is room for it."""
        poll = self.settings.relay_poll_seconds
        while not self.stopping.is_set():
            handed, room = self.run_once()
            with self._pass_ended:
                self.passes += 1
                self._pass_ended.notify_all()
            if room and handed < room:
                self.stopping.wait(poll)  # everything due is handed out: wait for more to fall due
            elif handed:
                self.submitter.wait_for_capacity(poll)  # the room was filled: go again once some frees
            else:
                self.stopping.wait(poll)  # no room at all, or the pass failed

    def wait_for_passes(self, count: int = 2, timeout: float = 30.0) -> bool:
        """Block until `count` more passes have ended; False on timeout. Two ends take in one whole pass
        that began after the call, so whatever was due then has been leased and handed out."""
        with self._pass_ended:
            target = self.passes + count
            return self._pass_ended.wait_for(lambda: self.passes >= target, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop and let started sends finish."""
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
        self.submitter.shutdown()


def embedded_relay(app: Flask, chores: Sequence[Chore] = ()) -> Relay:
    """The relay of `surveyd serve` with no broker: sends on threads of this process."""
    settings = app.config["SURVEYD"]
    return Relay(app, ThreadSubmitter(app, settings.dispatch_concurrency, owner_name()), chores=chores)


def celery_relay(app: Flask, max_in_flight: int = 1000, chores: Sequence[Chore] = (), senders: int = 1) -> Relay:
    """The relay of `surveyd worker`: hands ids to Celery, in batches for its `senders` threads."""
    return Relay(app, CelerySubmitter(app, max_in_flight, senders), chores=chores)
