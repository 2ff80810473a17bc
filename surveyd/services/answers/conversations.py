"""Chat replies to surveys: a customer's text becomes a consent change, a score, a comment or a polite re-prompt.

The conversation engine (bots/conversation.py) decides what a reply means; this module finds which
survey it answers, stores the effect with the claim on the raw delivery in one transaction, and
words the replies in the customer's language.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

import survey_templates
from bots.channel import InboundEvent
from bots.conversation import Action, Decision, Step, decide
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    ConsentState,
    Contact,
    Conversation,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    utcnow,
)
from surveyd.services.alerts import replies
from surveyd.services.answers import inbound
from surveyd.services.answers.responding import Progress, Stage, apply_answer, progress
from surveyd.services.audience.contacts import set_consent
from surveyd.services.design.scales import SCALES

# Dispatches a reply can be about: the ones that reached the customer (answered ones may await a comment).
REACHED = (DispatchStatus.SENT, DispatchStatus.DELIVERED, DispatchStatus.ANSWERED, DispatchStatus.EXPIRED)
RECENT = 20  # the newest dispatches to a number that a reply is matched against
_STEPS = {Stage.OPEN: Step.SCORE, Stage.FOLLOW_UP: Step.COMMENT, Stage.COMPLETE: Step.DONE,
          Stage.EXPIRED: Step.CLOSED, Stage.UNKNOWN: Step.NONE}
_KEYWORD_REPLIES = {Action.OPT_OUT: "opted_out", Action.OPT_IN: "opted_in", Action.HELP: "help"}
_CLOSED_REPLIES = {Action.ALREADY: "already", Action.EXPIRED: "expired"}


@dataclass
class Thread:
    """The survey a sender's reply is about, where it stands, and the language to answer in."""

    contacts: list[Contact]
    dispatch: Dispatch | None
    step: Step
    locale: str
    state: Progress | None = None  # the dispatch's progress, read with the thread in this transaction


# Every chat message runs these; built once, SQLAlchemy skips building and hashing them each time. The contacts'
# consents load only if a keyword changes one: a score or a comment does not read them.
_BY_ADDRESS = {channel: sa.select(Contact).where(column == sa.bindparam("address")).order_by(Contact.id)
               .options(lazyload(Contact.consents))
               for channel, column in ((Channel.SMS, Contact.phone), (Channel.TELEGRAM, Contact.telegram_chat_id))}
_RECENT = (sa.select(Dispatch)
           .where(Dispatch.contact_id.in_(sa.bindparam("contact_ids", expanding=True)),
                  Dispatch.channel == sa.bindparam("channel"), Dispatch.status.in_(REACHED),
                  Dispatch.sent_at.is_not(None))
           .order_by(Dispatch.sent_at.desc(), Dispatch.id.desc())
           .limit(RECENT))
_UNCLEAR = sa.select(Conversation.unclear_replies).where(Conversation.dispatch_id == sa.bindparam("dispatch_id"))


def contacts_with_address(channel: Channel, address: str) -> list[Contact]:
    """Every contact reached at this address on the channel (one phone may serve a household)."""
    return list(db.session.scalars(_BY_ADDRESS[channel], {"address": address}))


def chat_question(follow_ups: list[dict]) -> dict | None:
    """The follow-up a chat asks: the first free-text one (choices need the web page's buttons)."""
    return next((question for question in follow_ups if question["type"] == "text"), None)


def _step(state: Progress) -> Step:
    if state.stage == Stage.FOLLOW_UP and chat_question(state.follow_ups) is None:
        return Step.DONE  # nothing more to ask in a chat; the page can still take the choices
    return _STEPS[state.stage]


def answered_dispatch(dispatch: Dispatch) -> Dispatch:
    """A reminder is answered on the invitation it follows."""
    return dispatch.parent if dispatch.purpose == DispatchPurpose.REMINDER and dispatch.parent_id else dispatch


def find_thread(channel: Channel, contacts: list[Contact]) -> Thread:
    """The sender's latest open survey on this channel; else the latest one, to say it is closed or complete."""
    recent = list(db.session.scalars(_RECENT, {"contact_ids": [c.id for c in contacts], "channel": channel})
                  ) if contacts else []
    latest = None
    for dispatch in recent:
        target = answered_dispatch(dispatch)
        state = progress(target)
        thread = Thread(contacts, target, _step(state), target.locale, state)
        latest = latest or thread
        if thread.step in (Step.SCORE, Step.COMMENT):
            return thread
    if latest is not None:
        return latest
    locale = contacts[0].locale if contacts else None
    return Thread(contacts, None, Step.NONE, survey_templates.resolve_locale(locale, list(survey_templates.available_locales())))


def _conversation(dispatch: Dispatch, channel: Channel) -> Conversation:
    conversation = db.session.scalar(sa.select(Conversation).where(Conversation.dispatch_id == dispatch.id))
    if conversation is None:
        conversation = Conversation(dispatch_id=dispatch.id, channel=channel, unclear_replies=0)
        db.session.add(conversation)
    return conversation


def say(channel: Channel, locale: str, key: str, **values) -> str:
    """A chat reply in the channel's own wording (strings.toml has a section per chat channel)."""
    return survey_templates.translate(locale, f"{channel.value}.{key}", **values)


def _act(thread: Thread, decision: Decision, message: InboundEvent, channel: Channel) -> list[str]:
    """Store what the decision asks for (flushes) and return the replies."""
    locale = thread.locale
    if decision.action in _KEYWORD_REPLIES:
        state = ConsentState.OPTED_IN if decision.action == Action.OPT_IN else ConsentState.OPTED_OUT
        if decision.action != Action.HELP:
            for contact in thread.contacts:
                set_consent(contact, channel, state, f"{channel.value}_keyword",
                            {"keyword": (message.text or "")[:160], "message_id": message.provider_event_id})
        # The provider may have answered its own keyword already: one confirmation, not two.
        return [] if message.provider_confirms else [say(channel, locale, _KEYWORD_REPLIES[decision.action])]
    if decision.action in (*_CLOSED_REPLIES, Action.UNKNOWN) and replies.customer_wrote(
            thread.contacts, channel, message.text or ""):
        return []  # an agent wrote to them from an alert: this is their answer, kept there, not a survey reply
    if decision.action in _CLOSED_REPLIES:
        return [say(channel, locale, _CLOSED_REPLIES[decision.action])]
    if decision.action == Action.UNKNOWN:
        # Nothing was asked of this sender. An SMS answer to a stranger only costs money; someone who
        # writes to the bot gets a word on what it is for.
        return [] if channel == Channel.SMS else [say(channel, locale, "help")]
    dispatch = thread.dispatch
    low, high = SCALES[dispatch.survey.kind.value]
    if decision.action in (Action.REPROMPT, Action.IGNORE):
        _conversation(dispatch, channel).unclear_replies += 1
        if decision.action == Action.IGNORE:
            return []
        digits = survey_templates.locale_info(locale).localize_digits
        return [say(channel, locale, "reprompt", low=digits(low), high=digits(high))]
    if decision.action == Action.SCORE:
        answer = InboundEvent(kind="answer", channel=channel.value, score=decision.score)
    else:
        question = chat_question(thread.state.follow_ups)
        answer = InboundEvent(kind="answer", channel=channel.value, answers={question["id"]: decision.comment})
    result = apply_answer(dispatch, answer, thread.state)
    follow_up = chat_question(result.follow_ups) if result.stage == Stage.FOLLOW_UP else None
    return [follow_up["text"][dispatch.locale]] if follow_up else [say(channel, locale, "thanks")]


def take_message(inbound_id: int, message: InboundEvent) -> list[str]:
    """Act once on a stored chat message from a customer; the replies to send back (commits once)."""
    channel = Channel(message.channel)
    for _ in range(2):
        record = inbound.claim(inbound_id, utcnow())
        if record is None:
            db.session.rollback()
            return []  # acted on already, by an earlier delivery of the same message
        thread = find_thread(channel, contacts_with_address(channel, message.sender or ""))
        unclear = 0
        if thread.dispatch is not None:
            existing = db.session.scalar(_UNCLEAR, {"dispatch_id": thread.dispatch.id})
            unclear = existing or 0
        low, high = SCALES[thread.dispatch.survey.kind.value] if thread.dispatch else (0, 10)
        decision = decide(thread.step, message.text or "", low, high, thread.locale, unclear)
        try:
            replies = _act(thread, decision, message, channel)
        except IntegrityError:
            # The same survey was answered on another path at this very moment: look again.
            db.session.rollback()
            continue
        inbound.record_outcome(record, decision.action.value, thread.dispatch.id if thread.dispatch else None)
        db.session.commit()
        return replies
    return []
