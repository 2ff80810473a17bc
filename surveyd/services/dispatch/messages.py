"""Renders a dispatch into the message its channel carries."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import survey_templates
from bots.channel import OutboundMessage
from bots.sms_segments import count_segments
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchPurpose,
    Event,
    SurveyKind,
    SurveyVersion,
)
from surveyd.services import tokens
from surveyd.services.audience import chat_links, unsubscribing
from surveyd.services.design import placeholders
from surveyd.services.design.scales import SCALES
from surveyd.services.dispatch import channels
from surveyd.services.dispatch.planning import survey_link
from surveyd.services.runtime import public_url, settings
from surveyd.services.tokens import MAC_BYTES, NONCE_BYTES


def question_text(dispatch: Dispatch) -> str:
    """The score question in the dispatch's locale."""
    return dispatch.survey_version.scale_question["text"][dispatch.locale]


def compose(dispatch: Dispatch) -> OutboundMessage:
    """The invitation for a dispatch on its channel, in its locale."""
    url = survey_link(dispatch)
    low, high = SCALES[dispatch.survey.kind.value]
    context = {
        "question": question_text(dispatch),
        "url": url,
        "contact_name": dispatch.contact.name,
        "reminder": dispatch.purpose == DispatchPurpose.REMINDER,
        "low": low,
        "high": high,
    }
    # The link's token is unique to the dispatch and travels in every body: a provider that keeps
    # the body can be asked later whether it already has this message.
    common = {"dispatch_id": dispatch.id, "locale": dispatch.locale, "reference": url.rsplit("/", 1)[-1]}
    channel = dispatch.channel
    to = dispatch.contact.address(channel) or ""
    if channel == Channel.EMAIL:
        return _email(dispatch, context, to, common)
    if channel == Channel.TELEGRAM:
        context["legend"] = scale_legend(dispatch)
        text = survey_templates.render_message("telegram_invitation.txt", dispatch.locale, **context)
        return OutboundMessage(channel=channel.value, to=to, text=text, **common,
                               extra={"buttons": score_buttons(dispatch, to)})
    if channel == Channel.SMS and offers_telegram(dispatch):
        context["telegram_link"] = chat_links.offer(dispatch.contact)
    template = {Channel.SMS: "sms_invitation.txt"}.get(channel)
    text = survey_templates.render_message(template, dispatch.locale, **context) if template else context["url"]
    return OutboundMessage(channel=channel.value, to=to, text=text, **common)


def _email(dispatch: Dispatch, context: dict[str, Any], to: str, common: dict[str, Any]) -> OutboundMessage:
    """The email: the first question as one-click score links, the unsubscribe headers, text and HTML parts."""
    low, high = SCALES[dispatch.survey.kind.value]
    digits = survey_templates.locale_info(dispatch.locale).localize_digits
    question = dispatch.survey_version.scale_question
    event = db.session.get(Event, dispatch.event_id) if dispatch.event_id else None
    touchpoint = dispatch.trigger.touchpoint if dispatch.trigger else None
    context.update(
        score_links=[(digits(value), f"{context['url']}?score={value}") for value in range(low, high + 1)],
        low_label=(question.get("low_label") or {}).get(dispatch.locale),
        high_label=(question.get("high_label") or {}).get(dispatch.locale),
        legend=scale_legend(dispatch),
        unsubscribe_url=unsubscribing.unsubscribe_url(dispatch.contact),
        # For operators' own templates: what the touchpoint event said (order id, store, agent...).
        touchpoint=(touchpoint.name or touchpoint.key) if touchpoint else None,
        attributes=dict(event.attributes or {}) if event is not None else {},
    )
    own = dispatch.survey_version.email or {}
    values = {**context["attributes"], "name": dispatch.contact.name}
    context["own_subject"] = placeholders.fill((own.get("subject") or {}).get(dispatch.locale), values)
    context["own_intro"] = placeholders.fill((own.get("intro") or {}).get(dispatch.locale), values)
    if offers_telegram(dispatch):
        context["telegram_link"] = chat_links.offer(dispatch.contact)
    return OutboundMessage(
        channel=Channel.EMAIL.value,
        to=to,
        **common,
        subject=survey_templates.render_message("email_invitation.subject.txt", dispatch.locale, **context),
        text=survey_templates.render_message("email_invitation.txt", dispatch.locale, **context),
        html=survey_templates.render_message("email_invitation.html", dispatch.locale, **context),
        extra={"headers": unsubscribing.list_unsubscribe_headers(dispatch.contact)},
    )


def offers_telegram(dispatch: Dispatch) -> bool:
    """The invitation offers the bot to a contact who could use it but has no chat linked, on the channels
    the operator chose (SURVEYD_TELEGRAM_OFFER: email by default, since on SMS the link costs a segment)."""
    contact = dispatch.contact
    return (dispatch.channel.value in settings().telegram_offer
            and bool(settings().telegram_bot_username) and channels.adapter(Channel.TELEGRAM) is not None
            and not contact.telegram_chat_id and not contact.opted_out(Channel.TELEGRAM))


def scale_legend(dispatch: Dispatch) -> str:
    """What the ends of the scale mean, in the dispatch's locale ("0 = Not at all likely · 10 = Extremely likely")."""
    question = dispatch.survey_version.scale_question
    low, high = SCALES[dispatch.survey.kind.value]
    digits = survey_templates.locale_info(dispatch.locale).localize_digits
    labels = {end: (question.get(f"{end}_label") or {}).get(dispatch.locale) for end in ("low", "high")}
    if not all(labels.values()):
        return ""
    return survey_templates.translate(dispatch.locale, "telegram.legend", low=digits(low), high=digits(high),
                                      low_label=labels["low"], high_label=labels["high"])


def score_buttons(dispatch: Dispatch, chat_id: str) -> list[list[tuple[str, str]]]:
    """One button per score, sized for a phone (NPS in two rows); each button's data is signed for this chat."""
    low, high = SCALES[dispatch.survey.kind.value]
    digits = survey_templates.locale_info(dispatch.locale).localize_digits
    secret = settings().secret_key
    buttons = [(digits(value), tokens.sign_choice(dispatch.id, value, chat_id, secret)) for value in range(low, high + 1)]
    if len(buttons) <= 7:
        return [buttons]
    half = (len(buttons) + 1) // 2
    return [buttons[:half], buttons[half:]]


def sample_link() -> str:
    """A survey link as long as a real one: the public URL, /s/, a nonce, a dot and a MAC."""
    def b64_length(n: int) -> int:
        return -(-n * 4 // 3)
    return f"{public_url()}/s/" + "x" * b64_length(NONCE_BYTES) + "." + "y" * b64_length(MAC_BYTES)


def _sample_deep_link() -> str:
    """A Telegram deep link as long as a real one."""
    return chat_links.deep_link("z" * -(-chat_links.CODE_BYTES * 4 // 3))


def sms_segments(kind: SurveyKind, version: SurveyVersion) -> dict[str, dict[str, Any]]:
    """What the SMS invitation and its reminder cost per locale: encoding, length and segments (Twilio bills each).

    When SMS offers the Telegram bot, `invitation_with_telegram` and `reminder_with_telegram` give the cost
    of the longer message that contacts without a linked chat receive.
    """
    low, high = SCALES[kind.value]
    variants = {"": None}
    if "sms" in settings().telegram_offer and settings().telegram_bot_username:
        variants["_with_telegram"] = _sample_deep_link()
    costs = {}
    for locale in version.locales:
        context = {"question": version.scale_question["text"][locale], "url": sample_link(), "contact_name": None,
                   "low": low, "high": high}
        costs[locale] = {
            purpose + suffix: asdict(count_segments(survey_templates.render_message(
                "sms_invitation.txt", locale, reminder=(purpose == "reminder"), telegram_link=link, **context)))
            for suffix, link in variants.items()
            for purpose in ("invitation", "reminder")
        }
    return costs
