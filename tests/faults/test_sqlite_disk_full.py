"""The embedded default's disk fills up. surveyd runs on SQLite in a small tmpfs of its own; a ballast file eats the
room, and an integrator keeps posting events. A write that does not fit is a 503 with Retry-After that stored
nothing (never a 500), /readyz says the storage is full while it is, and once room is made the refused event goes
in with its Idempotency-Key: every acknowledged event is there exactly once."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Dispatch, Event
from surveyd.server import apply_migrations
from tests.conftest import _backend, free_port, make_env
from tests.live import outside_client, served, wait_until

pytestmark = [
    pytest.mark.skipif(_backend() != "sqlite", reason="the SQLite run fills SQLite's disk"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)"),
]
SIZE_MB = 12


@pytest.fixture
def small_disk():
    folder = Path(tempfile.mkdtemp(prefix="surveyd-faults-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _event(outside, key: str) -> requests.Response:
    body = {"touchpoint": "order.delivered", "contact": {"external_id": f"d-{key}"},
            "attributes": {"order_id": key, "note": "x" * 400}}
    return outside.session.post(outside.base + "/api/v1/events", json=body, headers={"Idempotency-Key": key},
                                timeout=30)


def test_a_full_disk_refuses_writes_clearly_and_loses_nothing_acknowledged(small_disk):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(make_env(f"sqlite:///{small_disk / 'surveyd.sqlite'}", SURVEYD_PUBLIC_URL=base,
                              SURVEYD_RELAY_POLL_SECONDS="0.2"), instance_path=str(small_disk / "instance"))
    apply_migrations(app, quiet=True)
    with served(app, port):
        outside = outside_client(app, base)
        survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en"]})
        outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
        assert requests.get(base + "/readyz", timeout=30).json()["checks"]["storage"] == "ok"

        ballast = small_disk / "ballast"
        with ballast.open("wb") as out:  # all but 256 KiB of the disk
            out.write(b"\0" * max(0, shutil.disk_usage(small_disk).free - 256 * 1024))
        statuses: Counter = Counter()
        acknowledged: dict[str, int] = {}
        refused = None
        for number in range(3000):
            key = f"k{number}"
            response = _event(outside, key)
            statuses[response.status_code] += 1
            if response.status_code == 202:
                acknowledged[key] = response.json()["id"]
                continue
            assert response.status_code == 503, (response.status_code, response.text)
            assert "disk is full" in response.json()["error"]["message"] and response.headers["Retry-After"]
            refused = key
            break
        assert refused, f"the disk never filled: {statuses}"
        ready = requests.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "full", ready.text

        ballast.unlink()
        wait_until(lambda: requests.get(base + "/readyz", timeout=30).status_code == 200, timeout=30,
                   what="/readyz once there is room again")
        retried = _event(outside, refused)
        assert retried.status_code == 202, retried.text
        acknowledged[refused] = retried.json()["id"]
        for number in range(3):
            response = _event(outside, f"after-{number}")
            assert response.status_code == 202, response.text
            acknowledged[f"after-{number}"] = response.json()["id"]
        assert _event(outside, refused).json()["id"] == acknowledged[refused]  # a replay, not a second event
        outside.session.close()
    with app.app_context():
        orders = Counter(db.session.scalars(sa.select(Event.attributes["order_id"].as_string())))
        per_event = Counter(db.session.scalars(sa.select(Dispatch.event_id)))
        db.session.remove()
        db.engine.dispose()
    assert orders == Counter({key: 1 for key in acknowledged})  # each acknowledged event once, nothing else
    assert all(per_event[event_id] == 1 for event_id in acknowledged.values())
