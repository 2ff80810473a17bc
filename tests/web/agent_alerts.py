"""Setups the Agents-view tests share: an unhappy answer on a survey with agents' targets, the sandbox's staff
Telegram account linked to a user, and the buttons and articles of the Agents view. Call inside an app context."""
from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Alert, Dispatch, Notification, User, WebhookDelivery
from surveyd.services.access import users
from surveyd.services.alerts import notifying
from surveyd.services.answers import responding
from surveyd.services.integrations import delivering
from surveyd.services.sandbox.agents import STAFF_TELEGRAM_USER_ID
from tests import factories
from tests.web.pages import parse

AGENT_CHAT = "-100200300"


def unhappy_answer(targets: list[dict], external_id: str = "cust-1", score: int = 2,
                   comment: str = "It came broken") -> int:
    """A survey whose alert tells these targets, and a detractor's answer on the web: the alert's id."""
    survey = factories.survey(name="Delivery NPS", locales=["en"], alert={"notify": targets})
    factories.trigger(survey.id, touchpoint=f"delivered.{external_id}")
    factories.contact(external_id, name="Ada Lovelace")
    (planned,) = factories.event(touchpoint=f"delivered.{external_id}", external_id=external_id)["dispatches"]
    dispatch = db.session.get(Dispatch, planned["id"])
    state = responding.record_answer(dispatch, InboundEvent(kind="answer", channel="web", score=score))
    responding.record_answer(dispatch, InboundEvent(kind="answer", channel="web",
                                                    answers={state.follow_ups[0]["id"]: comment}))
    return db.session.scalar(sa.select(Alert.id).where(Alert.response_id == state.response.id))


def notify_agents(alert_id: int) -> list[str]:
    """Send the alert's notifications and webhook deliveries now, as the sender threads would; their outcomes."""
    outcomes = [notifying.send_one(n) for n in db.session.scalars(
        sa.select(Notification.id).where(Notification.alert_id == alert_id).order_by(Notification.id)).all()]
    outcomes += [delivering.send_one(d) for d in db.session.scalars(
        sa.select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all()]
    return [outcome.value for outcome in outcomes]


def linked_agent(email: str = "agent@demo.test") -> None:
    """A staff agent whom the sandbox's Telegram account is linked to."""
    user = users.create_user(email, "agent", "correct horse battery")
    user.telegram_user_id = STAFF_TELEGRAM_USER_ID
    db.session.commit()


def agent_articles(html: str) -> list[dict]:
    """The Agents view's messages, newest first: channel, audience, recipient and the alert they are about."""
    return [{"channel": e.attrs["data-channel"], "audience": e.attrs.get("data-audience"), "id": e.attrs["id"],
             "alert": e.attrs.get("data-alert")}
            for e in parse(html).elements if e.tag == "article" and "data-audience" in e.attrs]


def alert_buttons(html: str) -> dict[str, dict[str, str]]:
    """The Claim and Resolve buttons on the page: accessible name -> the form's fields."""
    forms = re.findall(r'<form method="post" action="/sandbox/agents/telegram/tap">'
                       r'(?:<input type="hidden" name="csrf_token" value="[^"]+">)?\s*'
                       r'<input type="hidden" name="chat" value="([^"]+)"><input type="hidden" name="message_id" '
                       r'value="(\d+)">\s*<input type="hidden" name="data" value="([^"]+)">\s*'
                       r'<button type="submit" class="key" aria-label="([^"]+)">', html)
    return {unescape(name): {"chat": chat, "message_id": message_id, "data": data}
            for chat, message_id, data, name in forms}


def staff(email: str) -> User | None:
    """The staff user with this email."""
    return db.session.scalar(sa.select(User).where(User.email == email))
