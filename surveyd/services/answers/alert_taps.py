"""Claim and Resolve tapped under an alert's Telegram message: acted on as the staff user the tapper is linked to."""
from __future__ import annotations

import survey_templates
from bots.channel import InboundEvent
from survey_templates import translate
from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus
from surveyd.services import tokens
from surveyd.services.access.staff_links import staff_user
from surveyd.services.alerts import handling, messages, rendering
from surveyd.services.answers.chat_effects import ChatEffects
from surveyd.services.runtime import settings


def is_alert_tap(event: InboundEvent) -> bool:
    """Whether a tap's data belongs to an alert's buttons rather than a survey's."""
    return (event.text or "").startswith("k:")


def take(event: InboundEvent):
    """Verify the tap for this chat, act as the linked staff user, and say what to show (flushes only).

    Returns (effects, outcome).
    """
    chat = event.sender or ""
    action = tokens.verify_alert_action(event.text or "", chat, settings().secret_key)
    locale = action[2] if action else survey_templates.resolve_locale(
        event.answers.get("language_code"), list(survey_templates.available_locales()))
    alert = db.session.get(Alert, action[0]) if action else None
    if alert is None:
        return ChatEffects(acknowledge=translate(locale, "telegram.invalid_button")), "invalid_button"
    user = staff_user(event.answers.get("from_id"))
    if user is None:
        return ChatEffects(acknowledge=translate(locale, "alert.tap_link_needed")), "not_linked"
    actor = f"user:{user.email}"
    if alert.status == AlertStatus.RESOLVED:
        return ChatEffects(acknowledge=translate(locale, "alert.tap_already_resolved")), "already"
    if action[1] == "claim":
        if alert.assignee and alert.assignee.lower() != user.email.lower():
            return ChatEffects(acknowledge=translate(locale, "alert.tap_held_by", assignee=alert.assignee)), "held"
        if alert.status == AlertStatus.OPEN:
            handling.apply_changes(alert, {"status": "claimed", "assignee": user.email}, actor)
        toast = translate(locale, "alert.tap_claimed")
    else:
        handling.apply_changes(alert, {"status": "resolved", **({} if alert.assignee else {"assignee": user.email})},
                               actor)
        toast = translate(locale, "alert.tap_resolved")
    facts = rendering.gather(alert, "escalated" if alert.escalated_at else "created", locale)
    return ChatEffects(acknowledge=toast, edit=(messages.telegram_text(facts),
                                                rendering.telegram_buttons(alert, chat, locale))), action[1]
