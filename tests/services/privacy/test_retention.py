"""Retention, on a clock the test gives: raw inbound payloads emptied after SURVEYD_RAW_RETENTION_DAYS; with
SURVEYD_RETENTION_DAYS, people with nothing newer erased and older data of active people anonymised; nothing
touched when unset; the settings refuse nonsense."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.config import ConfigError, load_settings
from surveyd.extensions import db
from surveyd.models import Answer, Contact, Event, InboundMessage, Response, utcnow
from surveyd.services.answers import inbound
from surveyd.services.privacy import retention
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    fire,
    ok,
    web_dispatch,
)


@pytest.fixture
def keeping(app):
    """Set the retention settings for one test."""
    original = app.config["SURVEYD"]

    def keep(**values):
        app.config["SURVEYD"] = dataclasses.replace(original, **values)

    yield keep
    app.config["SURVEYD"] = original


def commented(api, client, external_id: str, comment: str) -> None:
    answer(client, web_dispatch(fire(api, "order.delivered", external_id, attributes={"order": f"o-{external_id}"}))
           ["url"], 8, missing=comment)


def age(app, external_id: str, days: int) -> None:
    """Make everything of one person `days` old."""
    with app.app_context():
        contact_id = db.session.scalar(sa.select(Contact.id).where(Contact.external_id == external_id))
        when = utcnow() - timedelta(days=days)
        db.session.execute(sa.update(Contact).where(Contact.id == contact_id).values(updated_at=when, created_at=when))
        db.session.execute(sa.update(Event).where(Event.contact_id == contact_id).values(received_at=when))
        db.session.execute(sa.update(Response).where(Response.contact_id == contact_id)
                           .values(created_at=when, updated_at=when))
        db.session.commit()
        db.session.remove()


def test_raw_payloads_are_emptied_after_their_days(ctx, keeping):
    keeping(raw_retention_days=30)
    for sid, days in (("SM-old", 31), ("SM-new", 29)):
        inbound.store_once(InboundEvent(kind="message", channel="sms", provider_event_id=sid, sender="+905321234567",
                                        text="hi"), {"Body": "hi", "MessageSid": sid})
        db.session.execute(sa.update(InboundMessage).where(InboundMessage.provider_event_id == sid)
                           .values(received_at=utcnow() - timedelta(days=days)))
    db.session.commit()
    assert retention.housekeep()["raw_payloads"] == 1
    payloads = dict(db.session.execute(sa.select(InboundMessage.provider_event_id, InboundMessage.payload)).all())
    assert payloads == {"SM-old": {}, "SM-new": {"Body": "hi", "MessageSid": "SM-new"}}
    assert retention.housekeep()["raw_payloads"] == 0  # once


def test_people_with_nothing_newer_are_erased_and_older_data_of_others_anonymised(api, client, app, keeping):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    commented(api, client, "gone-quiet", "An old complaint about the courier")
    commented(api, client, "still-here", "An old remark, about packaging")
    age(app, "gone-quiet", 400)
    age(app, "still-here", 400)
    commented(api, client, "still-here", "A fresh word about the app")  # active again
    before = ok(api.get(f"/surveys/{survey['id']}/metrics"), 200)

    keeping(retention_days=None)
    with app.app_context():
        assert retention.housekeep() == {"raw_payloads": 0, "people": 0, "older": 0}  # unset: kept
        db.session.remove()
    keeping(retention_days=365)
    with app.app_context():
        done = retention.housekeep()
        assert done["people"] == 1 and done["older"] >= 2
        ids = set(db.session.scalars(sa.select(Contact.external_id)))
        assert "gone-quiet" not in ids and "still-here" in ids
        texts = set(db.session.scalars(sa.select(Answer.value_text).where(Answer.value_text.is_not(None))))
        assert texts == {"A fresh word about the app"}
        attributes = [a for a in db.session.scalars(sa.select(Event.attributes)) if a]
        assert attributes == [{"order": "o-still-here"}]  # only the fresh event's
        assert retention.housekeep()["people"] == 0
        db.session.remove()
    assert ok(api.get(f"/surveys/{survey['id']}/metrics"), 200) == before


def test_retention_settings(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "s" * 32}
    default = load_settings(tmp_path, base)
    assert (default.retention_days, default.raw_retention_days) == (None, 30)
    set_ = load_settings(tmp_path, {**base, "SURVEYD_RETENTION_DAYS": "365", "SURVEYD_RAW_RETENTION_DAYS": "7"})
    assert (set_.retention_days, set_.raw_retention_days) == (365, 7)
    for name, value in (("SURVEYD_RETENTION_DAYS", "0"), ("SURVEYD_RETENTION_DAYS", "a year"),
                        ("SURVEYD_RAW_RETENTION_DAYS", "-1")):
        with pytest.raises(ConfigError, match=name):
            load_settings(tmp_path, {**base, name: value})
