"""What each channel would send for a survey, saved or still a draft, rendered by the code that renders real
messages (`messages.compose`) from objects that never enter the session; and that message sent to a member of
staff as a test, through the real channel adapters, with links that answer nothing.

Nothing here writes a contact, event, dispatch or response. Only a test sent to the sandbox adds its sandbox
rows, as any sandbox delivery does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bots.channel import ChannelError, OutboundMessage, RateLimit
from bots.sandbox import SandboxChannel
from bots.sms_segments import count_segments
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Contact,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    Survey,
    SurveyVersion,
    User,
    utcnow,
)
from surveyd.services import tokens
from surveyd.services.audience import unsubscribing
from surveyd.services.design import placeholders
from surveyd.services.design import survey_definitions as definitions
from surveyd.services.dispatch import channels, messages
from surveyd.services.dispatch.planning import survey_link
from surveyd.services.errors import NotFound, ServiceError
from surveyd.services.runtime import settings

SAMPLE_NAME = "Sam"
SAMPLE_EMAIL = "sam@example.com"
SAMPLE_PHONE = "+15555550100"  # 555-01xx numbers are reserved for fiction
SAMPLE_CHAT = "5550100"  # a chat id; a preview's buttons are signed for it and work nowhere
TEST_CHANNELS = ("email", "telegram", "sandbox")
ADDRESS_FIELD = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.TELEGRAM: "chat"}
TEST_BURST, TEST_PER_SECOND = 5, 1 / 12  # five tests at once, then one every 12 seconds, per staff user
PROVIDER_WAIT = 2.0  # seconds a test may wait for the provider's rate bucket before it is refused


class TestRefused(ServiceError):
    """A test that cannot be sent; `reason` names why (channel, locale, telegram_unlinked, email_off,
    telegram_off, sandbox_off, send_failed)."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, reason: str, message: str, status: int = 400):
        super().__init__(message)
        self.reason, self.status = reason, status


class TooSoon(ServiceError):
    """Too many tests in a short while; try again after `retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float):
        super().__init__(f"too many tests: try again in {retry_after:.0f} s")
        self.retry_after = max(1, int(retry_after + 0.999))


@dataclass(frozen=True)
class SmsPreview:
    """The SMS body and what it costs: Twilio bills every segment."""

    text: str
    segments: int
    encoding: str  # GSM-7 or UCS-2
    characters: int
    cost: Decimal
    currency: str
    with_telegram: dict[str, Any] | None  # segments and cost when the bot's link is added for an unlinked contact


@dataclass(frozen=True)
class EmailPreview:
    """The email's subject and both parts."""

    subject: str
    html: str
    text: str
    unfilled: tuple[str, ...]  # placeholders of the survey's own wording that only an event's attributes fill


@dataclass(frozen=True)
class TelegramPreview:
    """The bot's message and the labels of its buttons, row by row."""

    text: str
    buttons: list[list[str]]


@dataclass(frozen=True)
class Preview:
    """What each channel would send in one locale; `version` is None for a draft."""

    locale: str
    locales: list[str]
    version: int | None
    sms: SmsPreview
    email: EmailPreview
    telegram: TelegramPreview
    telegram_offered: tuple[str, ...]  # channels whose message also offers the bot to an unlinked contact


@dataclass(frozen=True)
class TestSent:
    """Where a test went: per channel, the address and whether that channel's adapter is the sandbox."""

    __test__ = False

    deliveries: list[tuple[str, str, bool]]


def draft_content(content: dict[str, Any], locale: str) -> dict[str, Any]:
    """A draft's content in one language only: all a preview of that language needs (small enough for a URL)."""
    def one(texts: Any) -> Any:
        return {locale: texts[locale]} if isinstance(texts, dict) and locale in texts else texts

    questions = []
    for question in content["questions"]:
        narrowed = {key: one(value) if key in ("text", "low_label", "high_label") else value
                    for key, value in question.items()}
        if "options" in question:
            narrowed["options"] = [{**option, "label": one(option.get("label"))} for option in question["options"]]
        questions.append(narrowed)
    email = {part: {locale: texts[locale]} for part, texts in (content.get("email") or {}).items()
             if isinstance(texts, dict) and texts.get(locale)} or None
    return {"locales": [locale], "questions": questions, "email": email}


def version_of(survey: Survey, content: dict[str, Any] | None = None, number: int | None = None) -> SurveyVersion:
    """The version to show: a draft's content in a transient version (never added to the session), the numbered
    one, or the current one. Invalid when a draft cannot make a message; NotFound for a missing number."""
    if content is not None:
        locales = list(content.get("locales") or [])
        definitions.check_locales(locales)
        definitions.check_questions(content.get("questions") or [], locales)
        email = definitions.check_email(content.get("email"), locales)
        return SurveyVersion(survey_id=survey.id, number=survey.current_version + 1, locales=locales,
                             questions=content["questions"], alert={}, email=email)
    if number is None:
        return survey.latest
    for version in survey.versions:
        if version.number == number:
            return version
    raise NotFound(f"survey {survey.id} has no version {number}")


def sample_dispatch(survey: Survey, version: SurveyVersion, locale: str, channel: Channel,
                    contact: Contact | None = None) -> Dispatch:
    """A dispatch as the planner would make it, to a sample contact unless one is given; transient, so a
    preview writes nothing. Its contact has a chat linked, so rendering never creates a bot link."""
    now = utcnow()
    contact = contact or sample_contact(locale)
    return Dispatch(survey_id=survey.id, survey=survey, survey_version=version, contact=contact, channel=channel,
                    purpose=DispatchPurpose.INVITATION, status=DispatchStatus.SCHEDULED, locale=locale,
                    token_nonce=tokens.new_nonce(), due_at=now,
                    expires_at=now + timedelta(seconds=settings().token_ttl_seconds), attempts=0)


def sample_contact(locale: str, email: str = SAMPLE_EMAIL, phone: str = SAMPLE_PHONE,
                   chat: str = SAMPLE_CHAT) -> Contact:
    """Sam, a contact who exists nowhere (no id: no link or button can ever name them)."""
    return Contact(external_id="sample", name=SAMPLE_NAME, email=email, phone=phone, telegram_chat_id=chat,
                   locale=locale, attributes={})


def _sample_token() -> str:
    return messages.sample_link().rsplit("/", 1)[-1]


def render(dispatch: Dispatch) -> OutboundMessage:
    """The dispatch's message exactly as `compose` renders it, with its survey and unsubscribe links swapped for
    samples of the same length that answer nothing (no survey, no unsubscribing, no recorded score)."""
    message = messages.compose(dispatch)
    real_token = survey_link(dispatch).rsplit("/", 1)[-1]
    real_unsubscribe = unsubscribing.unsubscribe_url(dispatch.contact).rsplit("/", 1)[-1]
    swaps = {real_token: _sample_token(), real_unsubscribe: "e0." + "z" * 16}

    def inert(text: str | None) -> str | None:
        for real, sample in swaps.items():
            text = text.replace(real, sample) if text else text
        return text

    extra = dict(message.extra)
    if "headers" in extra:
        extra["headers"] = {name: inert(value) for name, value in extra["headers"].items()}
    return replace(message, text=inert(message.text), subject=inert(message.subject), html=inert(message.html),
                   reference=inert(message.reference), extra=extra)


def _cost(segments: int) -> Decimal:
    return Decimal(str(settings().sms_segment_price)) * segments


def _sms(message: OutboundMessage, survey: Survey, version: SurveyVersion, locale: str) -> SmsPreview:
    counted = count_segments(message.text)
    costs = messages.sms_segments(survey.kind, version).get(locale, {})
    longer = costs.get("invitation_with_telegram")
    with_telegram = {"segments": longer["segments"], "cost": _cost(longer["segments"])} if longer else None
    return SmsPreview(text=message.text, segments=counted.segments, encoding=counted.encoding,
                      characters=len(message.text), cost=_cost(counted.segments), currency=settings().sms_currency,
                      with_telegram=with_telegram)


def _unfilled(version: SurveyVersion, locale: str) -> tuple[str, ...]:
    """Placeholders in the survey's own email wording that need an event's attributes (the name is Sam's)."""
    names: list[str] = []
    for texts in (version.email or {}).values():
        names += [n for n in placeholders.fields_of((texts or {}).get(locale) or "") or [] if n != "name"]
    return tuple(dict.fromkeys(names))


def offered_on(survey: Survey, version: SurveyVersion, locale: str) -> tuple[str, ...]:
    """The channels whose invitation would also carry the bot's link, for a contact with no chat linked."""
    unlinked = sample_contact(locale, chat=None)
    return tuple(channel.value for channel in (Channel.EMAIL, Channel.SMS)
                 if messages.offers_telegram(sample_dispatch(survey, version, locale, channel, unlinked)))


def preview(survey: Survey, content: dict[str, Any] | None = None, locale: str | None = None,
            version: int | None = None) -> Preview:
    """Every channel's invitation in one locale (the version's first when that one is not offered)."""
    shown = version_of(survey, content, version)
    locale = locale if locale in shown.locales else shown.default_locale
    sms, email, telegram = (render(sample_dispatch(survey, shown, locale, channel))
                            for channel in (Channel.SMS, Channel.EMAIL, Channel.TELEGRAM))
    return Preview(
        locale=locale, locales=list(shown.locales), version=None if content is not None else shown.number,
        sms=_sms(sms, survey, shown, locale),
        email=EmailPreview(subject=email.subject or "", html=email.html or "", text=email.text,
                           unfilled=_unfilled(shown, locale)),
        telegram=TelegramPreview(text=telegram.text,
                                 buttons=[[label for label, _ in row] for row in telegram.extra.get("buttons", [])]),
        telegram_offered=offered_on(survey, shown, locale),
    )


def test_choices(user: User) -> dict[str, str | None]:
    """Each kind of test and why this user cannot be sent it (a TestRefused reason), or None when they can."""
    found: dict[str, str | None] = {}
    for channel in TEST_CHANNELS:
        try:
            _targets(channel, user)
        except TestRefused as refused:
            found[channel] = refused.reason
        else:
            found[channel] = None
    return found


def _sandboxed() -> list[Channel]:
    return [channel for channel in (Channel.EMAIL, Channel.SMS, Channel.TELEGRAM)
            if isinstance(channels.adapter(channel), SandboxChannel)]


def _targets(channel: str, user: User) -> list[tuple[Channel, str]]:
    """(channel, address) of each message a test sends, or TestRefused."""
    if channel == "email":
        if channels.adapter(Channel.EMAIL) is None:
            raise TestRefused("email_off", "email is not set up here (SURVEYD_SMTP_HOST)")
        return [(Channel.EMAIL, user.email)]
    if channel == "telegram":
        if channels.adapter(Channel.TELEGRAM) is None:
            raise TestRefused("telegram_off", "Telegram is not set up here (SURVEYD_TELEGRAM_BOT_TOKEN)")
        if not user.telegram_user_id:
            raise TestRefused("telegram_unlinked", f"{user.email} has no Telegram account linked: run "
                                                   f"`surveyd user telegram-link --email {user.email}` and open the link")
        return [(Channel.TELEGRAM, user.telegram_user_id)]
    if channel == "sandbox":
        addresses = {Channel.EMAIL: user.email, Channel.SMS: SAMPLE_PHONE, Channel.TELEGRAM: SAMPLE_CHAT}
        found = [(each, addresses[each]) for each in _sandboxed()]
        if not found:
            raise TestRefused("sandbox_off", "no channel delivers to the sandbox here (SURVEYD_SANDBOX)")
        return found
    raise TestRefused("channel", f"a test goes by {', '.join(TEST_CHANNELS)}, not {channel!r}")


def _take(limits: list[RateLimit], patience: float) -> None:
    """A token from every bucket, waiting up to `patience` seconds; TooSoon otherwise."""
    waited = 0.0
    while (wait := channels.limiter().acquire(limits)) > 0:
        if waited + wait > patience:
            raise TooSoon(wait)
        time.sleep(wait)
        waited += wait


def send_test(survey: Survey, locale: str, channel: str, user: User, mark: str,
              version: int | None = None) -> TestSent:
    """Send the survey's invitation in a locale to the staff user themself (their email, their linked Telegram)
    or to the sandbox, marked as a test (`mark` leads the subject or text); commits only sandbox rows."""
    shown = version_of(survey, None, version)
    if locale not in shown.locales:
        raise TestRefused("locale", f"version {shown.number} has no {locale!r} texts")
    targets = _targets(channel, user)
    _take([RateLimit(f"console-test:{user.id}", TEST_PER_SECOND, TEST_BURST)], 0)
    outgoing = []
    for each, address in targets:
        contact = sample_contact(locale, **{ADDRESS_FIELD[each]: address})
        message = render(sample_dispatch(survey, shown, locale, each, contact))
        marked = {"subject": f"{mark} {message.subject}"} if each == Channel.EMAIL else {"text": f"{mark} {message.text}"}
        outgoing.append((each, replace(message, **marked, extra={**message.extra, "test": True})))
    db.session.rollback()  # nothing was written: end the read before talking to a provider
    deliveries = []
    for each, message in outgoing:
        adapter = channels.adapter(each)
        sandboxed = isinstance(adapter, SandboxChannel)
        _take(adapter.rate_limits(message), PROVIDER_WAIT)
        try:
            adapter.send(message)
        except ChannelError as error:
            db.session.rollback()
            raise TestRefused("send_failed", f"{each.value}: {error}", status=502) from error
        deliveries.append((each.value, message.to, sandboxed))
    db.session.commit()  # the sandbox's rows, if it took the test
    return TestSent(deliveries)

