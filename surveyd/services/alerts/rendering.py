"""From a notification row to the message its target receives: the facts gathered once, rendered per channel."""
from __future__ import annotations

import sqlalchemy as sa

from bots.channel import OutboundMessage
from survey_templates import translate
from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Event, Notification, Response, Touchpoint
from surveyd.services import tokens
from surveyd.services.alerts import digest, messages
from surveyd.services.alerts.facts import AlertFacts, PastAnswer
from surveyd.services.design.scales import SCALES
from surveyd.services.runtime import public_url, settings

HISTORY = 5  # earlier answers of the customer shown with an alert


def alert_url(alert_id: int) -> str:
    """Where an agent opens the alert."""
    return f"{public_url()}/console/alerts/{alert_id}"


def gather(alert: Alert, event: str, locale: str = "en") -> AlertFacts:
    """Everything a notification about this alert may say, read once."""
    response = alert.response
    version = response.survey_version
    event_row = db.session.get(Event, response.event_id) if response.event_id else None
    touchpoint = db.session.get(Touchpoint, response.touchpoint_id) if response.touchpoint_id else None
    earlier = db.session.scalars(
        sa.select(Response).where(Response.contact_id == alert.contact_id, Response.id != response.id)
        .order_by(Response.id.desc()).limit(HISTORY))
    contact = alert.contact
    return AlertFacts(
        alert_id=alert.id, url=alert_url(alert.id), event=event,
        survey_name=version.survey.name, kind=version.survey.kind.value, score=response.score,
        scale=SCALES[version.survey.kind.value], reasons=tuple(alert.reasons),
        comments=tuple(a.value_text for a in response.answers if a.value_text),
        customer_name=contact.name, customer_ref=contact.external_id, answered_on=response.channel.value,
        customer_locale=response.locale,
        touchpoint=touchpoint.key if touchpoint else None,
        attributes=dict(event_row.attributes or {}) if event_row else {},
        raised_at=alert.created_at, status=alert.status.value, assignee=alert.assignee, due_at=alert.due_at,
        history=tuple(PastAnswer(at=r.created_at, survey_name=r.survey_version.survey.name,
                                 kind=r.survey_version.survey.kind.value, score=r.score, channel=r.channel.value)
                      for r in earlier),
        locale=locale,
    )


def telegram_buttons(alert: Alert, chat_id: str, locale: str) -> list[list[tuple[str, str]]]:
    """Claim and Resolve under an alert's Telegram message, as far as its status still allows; signed per chat."""
    secret = settings().secret_key
    labels = {"c": translate(locale, "alert.claim_button"), "r": translate(locale, "alert.resolve_button")}
    actions = {AlertStatus.OPEN: "cr", AlertStatus.CLAIMED: "r", AlertStatus.CONTACTED: "r"}.get(alert.status, "")
    row = [(labels[action], tokens.sign_alert_action(alert.id, action, locale, chat_id, secret)) for action in actions]
    return [row] if row else []


def address(row: Notification) -> str:
    """Where a notification goes (mailbox, chat, webhook URL): all that pacing needs, known before rendering."""
    target = row.target
    if row.channel == "telegram":
        return str(target["chat_id"])
    return str(target["url"] if row.channel == "slack" else target["to"])


def _reply(row: Notification) -> OutboundMessage:
    """An agent's own words to the customer, as they typed them, on the customer's channel."""
    target, locale = row.target, row.target.get("locale") or "en"
    extra = {"audience": "customer", "alert_id": row.alert_id, "notification_id": row.id}
    if row.channel == "email":
        subject = translate(locale, "alert.reply_subject", survey=row.alert.response.survey_version.survey.name)
        return OutboundMessage(channel="email", to=address(row), subject=subject, text=target["text"], locale=locale,
                               extra=extra)
    return OutboundMessage(channel=row.channel, to=address(row), text=target["text"], locale=locale, extra=extra)


def _digest(row: Notification) -> OutboundMessage:
    """Many alerts for one target in one message, each line linking to its alert."""
    target, locale = row.target, row.target.get("locale") or "en"
    alerts = [db.session.get(Alert, alert_id) for alert_id in target["alert_ids"]]
    facts = [gather(alert, "created", locale) for alert in alerts if alert is not None]
    extra = {"audience": "agent", "alert_id": row.alert_id, "notification_id": row.id, "alert_ids": target["alert_ids"]}
    if row.channel == "telegram":
        return OutboundMessage(channel="telegram", to=str(target["chat_id"]), text=digest.telegram_text(facts, locale),
                               locale=locale, extra={**extra, "parse_mode": "HTML", "link_preview": False})
    body = digest.slack_message(facts, locale)
    return OutboundMessage(channel="slack", to=target["url"], text=body["text"], locale=locale,
                           extra={**extra, "blocks": body["blocks"]})


def message_for(row: Notification) -> OutboundMessage:
    """The rendered message for one notification row."""
    target = row.target
    if row.event == "reply":
        return _reply(row)
    if row.event == "digest":
        return _digest(row)
    facts = gather(row.alert, row.event, target.get("locale") or "en")
    extra = {"audience": "agent", "alert_id": row.alert_id, "notification_id": row.id}
    if row.channel == "email":
        subject, text, html = messages.email_parts(facts)
        return OutboundMessage(channel="email", to=target["to"], subject=subject, text=text, html=html,
                               locale=facts.locale, extra=extra)
    if row.channel == "telegram":
        chat = str(target["chat_id"])
        return OutboundMessage(channel="telegram", to=chat, text=messages.telegram_text(facts), locale=facts.locale,
                               extra={**extra, "parse_mode": "HTML", "link_preview": False,
                                      "buttons": telegram_buttons(row.alert, chat, facts.locale)})
    if row.channel == "slack":
        body = messages.slack_message(facts)
        return OutboundMessage(channel="slack", to=target["url"], text=body["text"], locale=facts.locale,
                               extra={**extra, "blocks": body["blocks"]})
    raise ValueError(f"no message for a {row.channel} notification")
