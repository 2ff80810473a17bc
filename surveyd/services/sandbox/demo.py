"""Demo data: surveys, triggers, contacts, ten weeks of answers, and fresh invitations in the sandbox; staff
users, and three alerts agents were told of (open, claimed, escalated)."""
from __future__ import annotations

import logging
import random
import secrets
from datetime import timedelta

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Alert, Contact, Dispatch, Response, Survey, User, utcnow
from surveyd.services.access import api_keys, users
from surveyd.services.alerts import escalation, handling
from surveyd.services.answers import responding
from surveyd.services.audience import contacts
from surveyd.services.design import surveys, touchpoints, triggers
from surveyd.services.design.scales import band
from surveyd.services.intake import events
from surveyd.services.sandbox.agents import STAFF_TELEGRAM_USER_ID

log = logging.getLogger(__name__)

PEOPLE = [
    ("emma", "Emma Clarke", "en", "Europe/London", "emma@example.com", "+447700900001", None),
    ("ayse", "Ayşe Yılmaz", "tr", "Europe/Istanbul", "ayse@example.com", "+905321000001", "100000001"),
    ("dariush", "داریوش رضایی", "fa", "Asia/Tehran", "dariush@example.com", "+989121000001", "100000002"),
]
FIRST_NAMES = ["Liam", "Zeynep", "Sara", "Mehmet", "Olivia", "Reza", "Noah", "Elif", "Maryam", "Jack"]
# Score weights per kind, roughly how real programmes look: mostly happy, a tail of unhappy.
WEIGHTS = {"nps": [2, 1, 1, 2, 2, 3, 4, 8, 12, 22, 18], "csat": [4, 5, 8, 30, 40], "ces": [3, 3, 5, 9, 18, 30, 25]}
STAFF = (("admin@demo.test", "admin"), ("designer@demo.test", "designer"), ("agent@demo.test", "agent"))
AGENT = "agent@demo.test"
AGENT_CHAT = "-1001000000001"  # the agents' Telegram group
SLA_MINUTES = 120
ALERT_TARGETS = {
    "notify": [{"channel": "email", "to": "agents@demo.test"}, {"channel": "telegram", "chat_id": AGENT_CHAT}],
    "escalate": [{"channel": "email", "to": "cx-leads@demo.test"}, {"channel": "telegram", "chat_id": AGENT_CHAT}],
    "sla_minutes": SLA_MINUTES,
}
# Three unhappy customers, whose alerts end up open, claimed by the agent, and escalated past the SLA.
UNHAPPY = [
    ("liam", "Liam Carter", "en", 2, "The parcel was left in the rain and everything inside got wet."),
    ("zeynep", "Zeynep Kaya", "tr", 4, "Kurye kapıyı çalmadan paketi komşuya bıraktı."),
    ("reza", "Reza Ahmadi", "fa", 1, "The box arrived empty. I want a refund."),
]
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


def _answer(external_id: str, score: int, comment: str, order_id: str) -> Alert:
    """An order.delivered event for the contact, answered with a score and a comment: the alert it raised."""
    payload = {"touchpoint": "order.delivered", "contact": {"external_id": external_id},
               "attributes": {"order_id": order_id, "store": "Camden"}}
    events.record_event(payload, events.request_hash(payload), f"demo-alert-{external_id}", lambda e, d: "{}")
    dispatch = db.session.scalar(sa.select(Dispatch).join(Dispatch.contact).where(Contact.external_id == external_id)
                                 .order_by(Dispatch.id.desc()).limit(1))
    channel = dispatch.channel.value
    state = responding.record_answer(dispatch, InboundEvent(kind="answer", channel=channel, score=score))
    responding.record_answer(dispatch, InboundEvent(kind="answer", channel=channel,
                                                    answers={state.follow_ups[0]["id"]: comment}))
    return db.session.scalar(sa.select(Alert).where(Alert.response_id == state.response.id))


def _seed_alerts() -> None:
    """Agents' targets on the NPS survey, and three alerts they were told of: open, claimed, escalated (once)."""
    nps = db.session.scalar(sa.select(Survey).where(Survey.name == "Delivery NPS"))
    if nps is None or db.session.scalar(sa.select(Contact.id).where(Contact.external_id == UNHAPPY[0][0])):
        return
    surveys.update_survey(nps.id, {"alert": ALERT_TARGETS})  # a database seeded before agents were told has none
    raised = []
    for number, (external_id, name, locale, score, comment) in enumerate(UNHAPPY, start=1):
        contacts.put_contact(external_id, {"name": name, "locale": locale, "email": f"{external_id}@example.com"})
        raised.append(_answer(external_id, score, comment, f"A-20{number:02d}"))
    _, claimed, overdue = raised
    handling.update_alert(claimed.id, {"status": "claimed", "assignee": AGENT}, f"user:{AGENT}")
    # Raised before its SLA ran out: the escalation chore finds it due now, as it would have on a live system.
    earlier = timedelta(minutes=SLA_MINUTES + 15)
    overdue.created_at, overdue.due_at = overdue.created_at - earlier, overdue.due_at - earlier
    for entry in overdue.activity:
        entry.at -= earlier
    db.session.commit()
    escalation.escalate_overdue(utcnow())
    log.info("demo: 3 alerts for agents (open, claimed by %s, escalated); see /sandbox?view=agents", AGENT)


def _seed_staff() -> None:
    """The demo's staff users, each with a password logged once; the sandbox's Telegram account acts as the agent."""
    for email, role in STAFF:
        if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            continue
        password = secrets.token_urlsafe(12)
        user = users.create_user(email, role, password)
        log.info("demo: staff user %s (%s), password: %s", email, role, password)
        if email == AGENT and not db.session.scalar(
                sa.select(User.id).where(User.telegram_user_id == STAFF_TELEGRAM_USER_ID)):
            # What `surveyd user telegram-link` and /start would do, so Claim and Resolve on the sandbox page act.
            user.telegram_user_id = STAFF_TELEGRAM_USER_ID
            db.session.commit()


def seed_demo() -> str | None:
    """Seed once; returns a new demo API key on the first run, None when already seeded.

    The staff users and the agents' alerts are seeded once each too, so a demo database from before they
    existed gets them on its next start.
    """
    key = _seed_base() if not db.session.scalar(sa.select(sa.func.count(Survey.id))) else None
    _seed_staff()
    _seed_alerts()
    return key


def _seed_base() -> str:
    """Surveys, triggers, touchpoints, history, the named people's invitations, and an API key."""
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
    # After the history, so only today's unhappy answers tell agents (the named people's included).
    surveys.update_survey(nps.id, {"alert": ALERT_TARGETS})
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
