"""A person's data on request and gone on request. A person is given unique strings in every field and channel
(contact, attributes, an event, an email invitation, an SMS reply and its raw payload, a web comment, an alert
with a staff note and resolution quoting it, the agents' alert email, an integrator's webhook delivery, a Telegram
chat link, an opt-out); the export holds every one; after the erasure no column of any table, and on SQLite no
byte of the database files, holds any of them, the figures have not moved, a second person is untouched, and the
address they had opted out of is never messaged again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AuditEntry,
    ChatLink,
    Contact,
    Dispatch,
    Notification,
    utcnow,
)
from surveyd.services.alerts import notifying
from surveyd.services.answers import inbound
from surveyd.services.dispatch import outbox, sending
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    snapshot,
    web_dispatch,
)


class Person:
    """Unique strings for every field of one person."""

    def __init__(self, tag: str):
        self.mark = f"{tag}{uuid.uuid4().hex[:12]}"
        digits = str(int(uuid.uuid4().hex[:8], 16) % 10**7).zfill(7)
        self.external_id = f"id-{self.mark}"
        self.name = f"Name {self.mark}"
        self.email = f"{self.mark}@example.com"
        self.phone = f"+90532{digits}"
        self.chat = f"77{digits}"
        self.comment = f"The box {self.mark} came crushed"
        self.sms_text = f"sms reply {self.mark}"
        self.note = f"Called about {self.mark}"
        self.resolution = f"Refunded {self.mark}"

    def strings(self) -> list[str]:
        return [self.mark, self.phone, self.phone[1:], self.chat, self.email]


def live_with(api, client, app, person: Person, survey_id: int) -> dict:
    """Everything a person can leave behind, through the real paths."""
    ok(api.put(f"/contacts/{person.external_id}", json={
        "name": person.name, "email": person.email, "phone": person.phone, "telegram_chat_id": person.chat,
        "attributes": {"segment": f"seg {person.mark}"}}), 201)
    body = fire(api, "order.delivered", person.external_id, attributes={"order": f"order {person.mark}"})
    answer(client, web_dispatch(body)["url"], 1, improve=person.comment)
    with app.app_context():
        alert_id = db.session.scalar(sa.select(Alert.id).join(Dispatch, Dispatch.contact_id == Alert.contact_id)
                                     .where(Dispatch.id == web_dispatch(body)["id"]))
        for dispatch_id in outbox.lease_due("test-relay", 50, 60):
            sending.send_one(dispatch_id)  # the email and SMS invitations, into the sandbox
        for notification_id in db.session.scalars(sa.select(Notification.id).where(Notification.alert_id == alert_id)):
            notifying.send_one(notification_id)  # the agents' email quotes the comment
        sid = f"SM{uuid.uuid4().hex}"  # the provider's id for the message, nothing of the person
        inbound.store_once(InboundEvent(kind="message", channel="sms", provider_event_id=sid,
                                        sender=person.phone, text=person.sms_text),
                           {"From": person.phone, "Body": person.sms_text, "MessageSid": sid})
        contact_id = db.session.scalar(sa.select(Contact.id).where(Contact.external_id == person.external_id))
        db.session.add(ChatLink(code=uuid.uuid4().hex, contact_id=contact_id, channel="telegram",
                                expires_at=utcnow() + timedelta(days=1), used_at=utcnow(), used_by=person.chat))
        db.session.commit()
        db.session.remove()
    path = f"/alerts/{alert_id}"
    ok(api.patch(path, json={"status": "contacted", "note": person.note}), 200)
    ok(api.patch(path, json={"status": "resolved", "root_cause": "delivery", "resolution": person.resolution}), 200)
    ok(api.put(f"/contacts/{person.external_id}", json={"consent": {"sms": "opted_out"}}), 200)
    return body


@pytest.fixture
def two_people(api, client, app):
    survey = create_survey(api, alert={"notify": [{"channel": "email", "to": "agents@example.com"}]})
    for channel in ("web", "email", "sms"):
        create_trigger(api, survey["id"], channels=[channel])
    ok(api.post("/webhook-endpoints", json={"url": "https://hooks.example.com/in", "events": ["response.created"]}),
       201)
    gone, kept = Person("gone"), Person("kept")
    live_with(api, client, app, gone, survey["id"])
    live_with(api, client, app, kept, survey["id"])
    return survey, gone, kept


def every_value(app) -> str:
    """Every column of every row of every table, as text."""
    chunks = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                chunks.append(json.dumps({k: (v.hex() if isinstance(v, bytes) else v) for k, v in row.items()},
                                         default=str, ensure_ascii=False))
        db.session.remove()
    return "\n".join(chunks)


def database_files(app) -> list[Path]:
    url = make_url(app.config["SURVEYD"].database_url)
    if url.get_backend_name() != "sqlite":
        return []
    return [Path(url.database + suffix) for suffix in ("", "-wal") if os.path.exists(url.database + suffix)]


def found_in_files(paths: list[Path], strings: list[str]) -> set[str]:
    """Which strings the raw bytes of these files hold, read by another process: closing any descriptor of a
    database file in this process would drop SQLite's POSIX locks on it, and the suite's database with them."""
    scan = ("import sys, json; data = b''.join(open(p, 'rb').read() for p in sys.argv[2:]); "
            "print(json.dumps([s for s in json.loads(sys.argv[1]) if s.encode() in data]))")
    done = subprocess.run([sys.executable, "-c", scan, json.dumps(strings), *map(str, paths)], capture_output=True,
                          text=True, check=True)
    return set(json.loads(done.stdout))


def test_the_export_holds_everything_given_and_is_audited(api, app, two_people):
    _, gone, kept = two_people
    document = ok(api.get(f"/contacts/{gone.external_id}/export"), 200)
    text = json.dumps(document, ensure_ascii=False)
    for planted in (gone.name, gone.email, gone.phone, gone.chat, f"seg {gone.mark}", f"order {gone.mark}",
                    gone.comment, gone.sms_text, gone.note, gone.resolution):
        assert planted in text, planted
    assert kept.mark not in text
    assert document["format"] == "surveyd.person/1" and document["contact"]["external_id"] == gone.external_id
    assert [c["state"] for c in document["consent_history"] if c["channel"] == "sms"][-1] == "opted_out"
    assert {d["channel"] for d in document["dispatches"]} >= {"web", "email", "sms"}
    assert any(m["recipient"] == gone.email for d in document["dispatches"] for m in d["messages"])
    assert document["alerts"][0]["activity"] and document["inbound_messages"][0]["payload"]["Body"] == gone.sms_text
    assert document["webhook_deliveries"] and document["chat_links"]
    assert "token_nonce" not in text and '"code"' not in text
    with app.app_context():
        (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "contact.exported")).all()
        assert entry.actor.startswith("api_key:") and gone.mark not in json.dumps(entry.detail)
        db.session.remove()
    assert error_of(api.get("/contacts/nobody/export"), 404)


def test_erasure_leaves_no_string_of_the_person_anywhere_and_moves_no_figure(api, app, two_people):
    survey, gone, kept = two_people
    before_metrics = ok(api.get(f"/surveys/{survey['id']}/metrics"), 200)
    before_rows = snapshot(app, "responses", "answers", "alerts", "dispatches", "events")
    for planted in gone.strings():
        assert planted in every_value(app), planted  # the scan sees them before
    files = database_files(app)
    if files:  # and so does the byte scan of SQLite's files (the database and its write-ahead log)
        assert found_in_files(files, [gone.mark]) == {gone.mark}

    assert api.client.delete(f"/api/v1/contacts/{gone.external_id}",
                             headers={"Authorization": f"Bearer {api.key}"}).status_code == 204

    everything = every_value(app)
    for planted in gone.strings():
        assert planted not in everything, planted
    for planted in kept.strings():
        assert planted in everything, planted  # the other person is untouched
    files = database_files(app)
    if files:
        assert found_in_files(files, gone.strings()) == set()
    assert ok(api.get(f"/surveys/{survey['id']}/metrics"), 200) == before_metrics
    assert snapshot(app, "responses", "answers", "alerts", "dispatches", "events") == before_rows
    with app.app_context():
        (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "contact.erased")).all()
        assert entry.detail["comments"] == 1 and entry.detail["suppressed_addresses"] == 1
        db.session.remove()
    assert error_of(api.get(f"/contacts/{gone.external_id}"), 404)
    assert error_of(api.client.delete(f"/api/v1/contacts/{gone.external_id}",
                                      headers={"Authorization": f"Bearer {api.key}"}), 404)


def test_an_erased_opt_out_is_never_messaged_again(api, app, two_people):
    survey, gone, _ = two_people
    api.client.delete(f"/api/v1/contacts/{gone.external_id}", headers={"Authorization": f"Bearer {api.key}"})
    # A later import brings the same phone back under a new id, with no consent on record.
    ok(api.put("/contacts/imported-again", json={"phone": gone.phone}), 201)
    body = fire(api, "order.delivered", "imported-again")
    sms = [d for d in body["dispatches"] if d["channel"] == "sms"]
    assert sms == [] or all(d["status"] == "suppressed" for d in sms)
    planned = {d["channel"]: d for d in body["dispatches"]}
    assert "sms" not in planned or planned["sms"]["reason"] == "opted_out"


def test_refusals_change_nothing(api, app, two_people):
    before = snapshot(app)
    everything = every_value(app)
    headers = {"Authorization": f"Bearer {api.key}"}
    assert error_of(api.client.delete("/api/v1/contacts/nobody", headers=headers), 404)
    assert api.client.delete("/api/v1/contacts/x").status_code == 401
    assert api.client.delete(f"/api/v1/contacts/{two_people[1].external_id}",
                             headers={"Authorization": "Bearer sk_forged"}).status_code == 401
    assert api.client.get(f"/api/v1/contacts/{two_people[1].external_id}/export").status_code == 401
    assert snapshot(app) == before and every_value(app) == everything


def test_admins_download_the_same_document_from_the_console(api, app, two_people):
    from tests.console.staff import signed_in

    _, gone, _ = two_people
    download = signed_in(app, "admin").get(f"/console/contacts/{gone.external_id}")
    assert f'href="/console/contacts/{gone.external_id}/export"' in download.get_data(as_text=True)
    got = signed_in(app, "admin", "boss@example.com").get(f"/console/contacts/{gone.external_id}/export")
    assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("attachment")
    document = json.loads(got.get_data(as_text=True))
    assert document["contact"]["email"] == gone.email and document["responses"][0]["answers"]
    assert signed_in(app, "agent").get(f"/console/contacts/{gone.external_id}/export").status_code == 403
    assert signed_in(app, "admin", "third@example.com").get("/console/contacts/nobody/export").status_code == 404
