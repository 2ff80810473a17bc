"""Demo data: surveys, triggers, contacts, ten weeks of answers, and fresh invitations in the sandbox."""
from __future__ import annotations

import logging
import random
from datetime import timedelta

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Dispatch, Response, Survey, utcnow
from surveyd.services.access import api_keys
from surveyd.services.answers import responding
from surveyd.services.audience import contacts
from surveyd.services.design import surveys, touchpoints, triggers
from surveyd.services.design.scales import band
from surveyd.services.intake import events

log = logging.getLogger(__name__)

PEOPLE = [
    ("emma", "Emma Clarke", "en", "Europe/London", "emma@example.com", "+447700900001", None),
    ("ayse", "Ayşe Yılmaz", "tr", "Europe/Istanbul", "ayse@example.com", "+905321000001", "100000001"),
    ("dariush", "داریوش رضایی", "fa", "Asia/Tehran", "dariush@example.com", "+989121000001", "100000002"),
]
FIRST_NAMES = ["Liam", "Zeynep", "Sara", "Mehmet", "Olivia", "Reza", "Noah", "Elif", "Maryam", "Jack"]
# Score weights per kind, roughly how real programmes look: mostly happy, a tail of unhappy.
WEIGHTS = {"nps": [2, 1, 1, 2, 2, 3, 4, 8, 12, 22, 18], "csat": [4, 5, 8, 30, 40], "ces": [3, 3, 5, 9, 18, 30, 25]}
COMMENTS = {"negative": "The courier was two days late and nobody told me.", "neutral": "Fine, but the app was slow.",
            "positive": "Quick and friendly, thank you!"}


def _history(survey: Survey, touchpoint: str, channel: str, rng: random.Random, weeks: int = 10) -> None:
    """Past events and answers so the trends have a shape; timestamps moved back in time."""
    low = 0 if survey.kind.value == "nps" else 1
    now = utcnow()
    for index in range(weeks * 6):
        when = now - timedelta(days=rng.uniform(1, weeks * 7))
        external_id = f"demo-{survey.kind.value}-{index}"
        contacts.put_contact(external_id, {"name": f"{rng.choice(FIRST_NAMES)} {index}", "locale": rng.choice(["en", "tr", "fa"]),
                                           "email": f"{external_id}@example.com"})
        payload = {"touchpoint": touchpoint, "contact": {"external_id": external_id}, "occurred_at": when,
                   "attributes": {"store": rng.choice(["Kadıköy", "Camden", "Tajrish"])}}
        events.record_event(payload, events.request_hash(payload), None, lambda e, d: "{}")
        dispatch = db.session.scalar(
            sa.select(Dispatch).join(Dispatch.contact).where(Dispatch.survey_id == survey.id)
            .order_by(Dispatch.id.desc()).limit(1)
        )
        score = rng.choices(range(low, low + len(WEIGHTS[survey.kind.value])), WEIGHTS[survey.kind.value])[0]
        state = responding.record_answer(dispatch, InboundEvent(kind="answer", channel=channel, score=score))
        if state.follow_ups and rng.random() < 0.4:
            # The comment of the score's band, so a passive's comment reads like a passive's.
            answer = {state.follow_ups[0]["id"]: COMMENTS[band(survey.kind.value, state.response.score)]}
            responding.record_answer(dispatch, InboundEvent(kind="answer", channel=channel, answers=answer))
        db.session.execute(sa.update(Response).where(Response.dispatch_id == dispatch.id).values(created_at=when, updated_at=when))
        db.session.commit()


def seed_demo() -> str | None:
    """Seed once; returns a new demo API key on the first run, None when already seeded."""
    if db.session.scalar(sa.select(sa.func.count(Survey.id))):
        return None
    rng = random.Random(7)
    locales = ["en", "tr", "fa"]
    nps = surveys.create_survey({"name": "Delivery NPS", "kind": "nps", "locales": locales,
                                 "alert": {"keywords": ["refund", "cancel", "iade", "لغو"]}})
    csat = surveys.create_survey({"name": "Support CSAT", "kind": "csat", "locales": locales})
    ces = surveys.create_survey({"name": "Checkout effort", "kind": "ces", "locales": locales})
    for key, name, stage in (("order.delivered", "Order delivered", "post_purchase"),
                             ("ticket.closed", "Support ticket closed", "support"),
                             ("checkout.completed", "Checkout completed", "purchase")):
        touchpoints.put_touchpoint(key, name, stage)
    triggers.create_trigger({"touchpoint": "order.delivered", "survey_id": nps.id, "channels": ["sms", "email", "web"]})
    triggers.create_trigger({"touchpoint": "ticket.closed", "survey_id": csat.id, "channels": ["telegram", "email", "web"]})
    triggers.create_trigger({"touchpoint": "checkout.completed", "survey_id": ces.id, "channels": ["email", "web"]})
    _history(nps, "order.delivered", "sms", rng)
    _history(csat, "ticket.closed", "email", rng)
    _history(ces, "checkout.completed", "email", rng)
    for external_id, name, locale, timezone, email, phone, chat in PEOPLE:
        contacts.put_contact(external_id, {"name": name, "locale": locale, "timezone": timezone, "email": email,
                                           "phone": phone, "telegram_chat_id": chat})
    for external_id, touchpoint in (("emma", "order.delivered"), ("ayse", "order.delivered"),
                                    ("dariush", "order.delivered"), ("ayse", "ticket.closed"),
                                    ("emma", "checkout.completed")):
        payload = {"touchpoint": touchpoint, "contact": {"external_id": external_id}, "attributes": {"order_id": "A-1042"}}
        events.record_event(payload, events.request_hash(payload), f"demo-{external_id}-{touchpoint}", lambda e, d: "{}")
    _, raw = api_keys.create_api_key("demo")
    log.info("demo: seeded 3 surveys, 3 triggers and %d responses", db.session.scalar(sa.select(sa.func.count(Response.id))))
    return raw
