"""Telegram updates: a tap on a score button, a command or a typed message, each acted on once per update_id."""
from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.exc import IntegrityError

import survey_templates
from bots.channel import InboundEvent
from bots.telegram_bot import parse_update
from survey_templates import translate
from surveyd.extensions import db
from surveyd.models import Channel, ConsentState, Contact, Dispatch, utcnow
from surveyd.services import tokens
from surveyd.services.access import staff_links
from surveyd.services.answers import alert_taps, conversations, inbound
from surveyd.services.answers.chat_effects import ChatEffects
from surveyd.services.answers.conversations import (
    chat_question,
    contacts_with_address,
    say,
)
from surveyd.services.answers.responding import Stage, apply_answer, progress
from surveyd.services.audience import chat_links
from surveyd.services.audience.contacts import set_consent
from surveyd.services.dispatch import channels
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
TELEGRAM = Channel.TELEGRAM


def _locale(contacts: list[Contact], event: InboundEvent) -> str:
    """The contact's language, else the one the Telegram app reports, else the first we have."""
    wanted = next((c.locale for c in contacts if c.locale), None) or event.answers.get("language_code")
    return survey_templates.resolve_locale(wanted, list(survey_templates.available_locales()))


def _tap(event: InboundEvent) -> tuple[ChatEffects, str, int | None]:
    """A score button: verified for this chat, recorded on the survey it belongs to."""
    chat = event.sender or ""
    choice = tokens.verify_choice(event.text or "", chat, settings().secret_key)
    dispatch = db.session.get(Dispatch, choice[0]) if choice else None
    if dispatch is None or dispatch.contact.telegram_chat_id != chat:
        locale = _locale(contacts_with_address(TELEGRAM, chat), event)
        return ChatEffects(acknowledge=say(TELEGRAM, locale, "invalid_button")), "invalid_button", None
    target = conversations.answered_dispatch(dispatch)
    locale, state = target.locale, progress(target)
    if state.stage == Stage.EXPIRED:
        return ChatEffects(acknowledge=say(TELEGRAM, locale, "expired")), "expired", target.id
    if state.stage in (Stage.FOLLOW_UP, Stage.COMPLETE):
        return ChatEffects(acknowledge=say(TELEGRAM, locale, "already")), "already", target.id
    result = apply_answer(target, InboundEvent(kind="answer", channel=TELEGRAM.value, score=choice[1]), state)
    if result.error:
        return ChatEffects(acknowledge=say(TELEGRAM, locale, "invalid_button")), "invalid_button", target.id
    digits = survey_templates.locale_info(locale).localize_digits
    question = target.survey_version.scale_question["text"][locale]
    follow_up = chat_question(result.follow_ups) if result.stage == Stage.FOLLOW_UP else None
    return ChatEffects(
        acknowledge="",
        show_choice=f"{question}\n\n{say(TELEGRAM, locale, 'chosen', score=digits(choice[1]))}",
        replies=[follow_up["text"][locale] if follow_up else say(TELEGRAM, locale, "thanks")],
    ), "score", target.id


def _command(event: InboundEvent) -> tuple[ChatEffects, str, int | None]:
    """/start, /stop and /help (a command may carry @botname and an argument)."""
    chat = event.sender or ""
    parts = (event.text or "").split(maxsplit=1)
    name = parts[0].split("@")[0].lower() if parts else ""
    argument = parts[1].strip() if len(parts) > 1 else ""
    contacts = contacts_with_address(TELEGRAM, chat)
    locale = _locale(contacts, event)
    if name == "/stop":
        for contact in contacts:
            set_consent(contact, TELEGRAM, ConsentState.OPTED_OUT, "telegram_command",
                        {"command": "/stop", "update_id": event.provider_event_id})
        return ChatEffects(replies=[say(TELEGRAM, locale, "opted_out")]), "opt_out", None
    if name == "/start" and argument:
        linked = chat_links.redeem(argument, chat, event.answers.get("language_code") or None)
        if linked is None and (staff := staff_links.redeem(argument, event.answers.get("from_id") or "")):
            return ChatEffects(replies=[translate(locale, "alert.staff_linked", email=staff.email)]), "staff_linked", None
        if linked is None:
            return ChatEffects(replies=[say(TELEGRAM, locale, "link_invalid")]), "link_invalid", None
        locale = _locale([linked], event)
        return ChatEffects(replies=[say(TELEGRAM, locale, "linked")]), "linked", None
    if name == "/start" and any(contact.opted_out(TELEGRAM) for contact in contacts):
        for contact in contacts:
            set_consent(contact, TELEGRAM, ConsentState.OPTED_IN, "telegram_command",
                        {"command": "/start", "update_id": event.provider_event_id})
        return ChatEffects(replies=[say(TELEGRAM, locale, "opted_in")]), "opt_in", None
    if name == "/start":
        return ChatEffects(replies=[say(TELEGRAM, locale, "welcome")]), "welcome", None
    return ChatEffects(replies=[say(TELEGRAM, locale, "help")]), "help", None


def take_update(inbound_id: int, event: InboundEvent) -> ChatEffects:
    """Act once on a stored update; what to send back once it is committed (commits once)."""
    if event.kind == "message":
        return ChatEffects(replies=conversations.take_message(inbound_id, event))
    for _ in range(2):
        record = inbound.claim(inbound_id, utcnow())
        if record is None:
            db.session.rollback()
            return ChatEffects()  # an earlier delivery of this update_id acted already
        try:
            if event.kind == "tap" and alert_taps.is_alert_tap(event):
                (effects, outcome), dispatch_id = alert_taps.take(event), None
            elif event.kind == "tap":
                effects, outcome, dispatch_id = _tap(event)
            elif event.kind == "command":
                effects, outcome, dispatch_id = _command(event)
            else:
                effects, outcome, dispatch_id = ChatEffects(), "ignored", None
        except IntegrityError:
            db.session.rollback()  # answered on another path at this very moment: look again
            continue
        inbound.record_outcome(record, outcome, dispatch_id)
        db.session.commit()
        return effects
    return ChatEffects()


def deliver(event: InboundEvent, effects: ChatEffects, adapter) -> None:
    """Tell Telegram (after the commit): stop the tap's spinner, show the choice, send the replies."""
    chat = event.sender or ""
    try:
        if effects.acknowledge is not None and event.answers.get("callback_query_id"):
            adapter.acknowledge(event.answers["callback_query_id"], effects.acknowledge or None)
        if effects.show_choice and event.answers.get("message_id", "").isdigit():
            adapter.show_choice(chat, int(event.answers["message_id"]), effects.show_choice)
        if effects.edit and event.answers.get("message_id", "").isdigit():
            text, buttons = effects.edit
            adapter.edit(chat, int(event.answers["message_id"]), text, buttons, parse_mode="HTML")
        for reply in effects.replies:
            adapter.reply(chat, reply)
    except Exception:  # the answer is stored; a reply that cannot be sent must not undo it
        log.warning("telegram update %s: could not answer in chat %s", event.provider_event_id, chat, exc_info=True)


def tap_answer(event: InboundEvent, effects: ChatEffects) -> tuple[dict | None, ChatEffects]:
    """The tap's answer as a Bot API call for the webhook's own response, and what is left to send; (None, effects)
    when there is no tap to answer. Telegram performs a method given in the response to its update, so the answer
    that stops the customer's spinner costs no request of ours (Bot API, "Making requests when getting updates")."""
    query = event.answers.get("callback_query_id")
    if effects.acknowledge is None or not query:
        return None, effects
    call = {"method": "answerCallbackQuery", "callback_query_id": query}
    if effects.acknowledge:
        call["text"] = effects.acknowledge
    return call, replace(effects, acknowledge=None)


def receive(update: object, adapter=None, answer_in_response: bool = False) -> dict | None:
    """One update, from the webhook, the long poll or the sandbox: kept once, acted on once, answered after the commit.

    Raises WebhookRejected (400) for something that is not an update; nothing is stored then. The
    answers go through `adapter` (the app's Telegram adapter unless the sandbox passes its own). With
    `answer_in_response` (the webhook), a tap's answer is returned as a Bot API call for the response instead.
    """
    event = parse_update(update)
    inbound_id = inbound.store_once(event, update)
    if not inbound_id:
        return None  # delivered before and acted on then
    effects = take_update(inbound_id, event)
    call = None
    if answer_in_response:
        call, effects = tap_answer(event, effects)
    adapter = adapter or channels.adapter(TELEGRAM)
    # The sandbox inbox's adapter only stores invitations; the sandbox page passes its SandboxChat.
    if adapter is not None and hasattr(adapter, "reply"):
        deliver(event, effects, adapter)
    return call
