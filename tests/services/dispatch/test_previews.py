"""Previews and test sends: each channel's message rendered by the real renderer for a saved version or a draft,
with links that answer nothing, and nothing written; a test reaches only the staff user or the sandbox."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from surveyd.config import ConfigError, load_settings
from surveyd.extensions import db
from surveyd.models import Channel, Dispatch, SandboxMessage, User
from surveyd.services import tokens
from surveyd.services.access import users
from surveyd.services.answers.responding import dispatch_for_token
from surveyd.services.dispatch import messages, previews
from surveyd.services.dispatch.rate_limits import MemoryLimiter
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.runtime import settings
from tests import factories


def row_counts() -> dict[str, int]:
    """Rows in every table of the schema."""
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def draft_of(survey, **changes):
    """A draft as the designer hands it over: the current version's content with some parts changed."""
    latest = survey.latest
    content = {"locales": list(latest.locales), "questions": [dict(q) for q in latest.questions],
               "alert": dict(latest.alert), "email": latest.email}
    content.update(changes)
    return content


@pytest.fixture
def survey(ctx):
    return factories.survey(locales=["en", "tr", "fa"])


def test_each_channel_is_exactly_what_a_real_dispatch_to_sam_would_carry_but_for_its_links(survey):
    factories.contact("sam", name=previews.SAMPLE_NAME, email="sam@example.com", phone="+15555550100",
                      telegram_chat_id="5550100", locale="fa")
    for channel in ("sms", "email", "telegram"):
        factories.trigger(survey.id, touchpoint=f"test.{channel}", channels=[channel])
    shown = previews.preview(survey, None, "fa")
    for channel in ("sms", "email", "telegram"):
        dispatch = db.session.get(Dispatch, factories.event(f"test.{channel}", "sam")["dispatches"][0]["id"])
        real = messages.compose(dispatch)
        token = real.reference
        unsubscribe = tokens.sign_unsubscribe(dispatch.contact_id, "email", settings().secret_key)
        sample = messages.sample_link().rsplit("/", 1)[-1]

        def inert(text, token=token, unsubscribe=unsubscribe, sample=sample):
            return text.replace(token, sample).replace(unsubscribe, "e0." + "z" * 16)

        if channel == "sms":
            assert shown.sms.text == inert(real.text)
        elif channel == "email":
            assert (shown.email.subject, shown.email.text, shown.email.html) == \
                (inert(real.subject), inert(real.text), inert(real.html))
        else:
            assert shown.telegram.text == inert(real.text)
            assert shown.telegram.buttons == [[label for label, _ in row] for row in real.extra["buttons"]]


def test_the_sms_facts_match_the_survey_apis_segment_count_and_the_cost_is_segments_times_the_price(survey):
    costs = messages.sms_segments(survey.kind, survey.latest)
    for locale, encoding in (("en", "GSM-7"), ("fa", "UCS-2")):
        sms = previews.preview(survey, None, locale).sms
        assert (sms.segments, sms.encoding) == (costs[locale]["invitation"]["segments"], encoding)
        assert sms.characters == len(sms.text)
        assert sms.cost == Decimal("0.0083") * sms.segments and sms.currency == "USD"
        assert sms.with_telegram is None  # the bot is offered on email only, by default


def test_a_preview_writes_nothing_and_its_objects_never_enter_the_session(survey):
    content = draft_of(survey, questions=[{**survey.latest.questions[0],
                                           "text": {"en": "Would you send a friend to us?", "tr": "Önerir misiniz?",
                                                    "fa": "ما را پیشنهاد می‌کنید؟"}},
                                          *survey.latest.questions[1:]])
    before = row_counts()
    draft = previews.preview(survey, content, "en")
    saved = previews.preview(survey, None, "tr")
    version = previews.version_of(survey, content)
    dispatch = previews.sample_dispatch(survey, version, "en", Channel.EMAIL)
    previews.render(dispatch)
    db.session.flush()
    db.session.commit()
    assert row_counts() == before
    assert inspect(dispatch).transient and inspect(version).transient and inspect(dispatch.contact).transient
    assert version not in survey.versions and dispatch not in db.session
    assert "Would you send a friend to us?" in draft.sms.text and draft.version is None
    assert saved.version == 1 and saved.locale == "tr"


def test_the_links_and_buttons_in_a_preview_answer_nothing(survey):
    version = survey.latest
    email = previews.render(previews.sample_dispatch(survey, version, "en", Channel.EMAIL))
    token = email.reference
    assert f"/s/{token}?score=9" in email.html and token == messages.sample_link().rsplit("/", 1)[-1]
    assert tokens.verify(token, settings().secret_key) is None and dispatch_for_token(token) is None
    assert tokens.verify_unsubscribe("e0." + "z" * 16, "email", settings().secret_key) is None
    assert "e0." + "z" * 16 in email.extra["headers"]["List-Unsubscribe"]
    chat = previews.render(previews.sample_dispatch(survey, version, "en", Channel.TELEGRAM))
    for row in chat.extra["buttons"]:
        for _, data in row:
            assert tokens.verify_choice(data, chat.to, settings().secret_key) is None


def test_a_draft_in_one_language_is_small_and_still_previews_the_same(survey):
    content = draft_of(survey, email={"subject": {"en": "Hello {name}", "fa": "سلام {name}"},
                                      "intro": {"en": "About order {order_id}"}})
    narrowed = previews.draft_content(content, "fa")
    assert narrowed["locales"] == ["fa"] and narrowed["email"] == {"subject": {"fa": "سلام {name}"}}
    assert all(set(q["text"]) == {"fa"} for q in narrowed["questions"])
    assert previews.preview(survey, narrowed, "fa").email == previews.preview(survey, content, "fa").email
    shown = previews.preview(survey, content, "en").email
    assert shown.subject == "Hello Sam" and shown.unfilled == ("order_id",)


def test_a_draft_that_cannot_make_a_message_is_refused_and_a_locale_not_offered_falls_back(survey):
    broken = draft_of(survey, questions=[{**survey.latest.questions[0], "text": {"en": "", "tr": "x", "fa": "y"}}])
    with pytest.raises(Invalid):
        previews.preview(survey, broken, "en")
    with pytest.raises(NotFound):
        previews.preview(survey, None, "en", version=7)
    assert previews.preview(survey, draft_of(survey, locales=["tr"]), "en").locale == "tr"


@pytest.fixture
def staff(ctx):
    return users.create_user("designer@example.com", "designer", "correct horse battery")


def test_a_test_to_the_sandbox_lands_there_marked_and_writes_nothing_else(survey, staff):
    before = row_counts()
    sent = previews.send_test(survey, "fa", "sandbox", staff, "[Test]")
    assert sorted(sent.deliveries) == [("email", "designer@example.com", True), ("sms", previews.SAMPLE_PHONE, True),
                                       ("telegram", previews.SAMPLE_CHAT, True)]
    rows = {row.channel.value: row for row in db.session.scalars(sa.select(SandboxMessage))}
    assert rows["email"].subject.startswith("[Test] ") and rows["email"].recipient == "designer@example.com"
    assert rows["sms"].text.startswith("[Test] ") and rows["telegram"].extra["buttons"]
    assert all(row.dispatch_id is None and row.extra["test"] for row in rows.values())
    after = row_counts()
    assert after.pop("sandbox_messages") == before.pop("sandbox_messages") + 3
    assert after == before


def test_a_test_goes_only_where_it_can(survey, staff):
    assert previews.test_choices(staff) == {"email": None, "telegram": "telegram_unlinked", "sandbox": None}
    for channel, locale, reason in (("telegram", "en", "telegram_unlinked"), ("sms", "en", "channel"),
                                    ("email", "de", "locale")):
        with pytest.raises(previews.TestRefused) as refused:
            previews.send_test(survey, locale, channel, staff, "[Test]")
        assert refused.value.reason == reason
    assert db.session.scalar(sa.select(sa.func.count(SandboxMessage.id))) == 0


def test_tests_are_rate_limited_per_user(survey, staff, app):
    cache = app.extensions.setdefault("surveyd.channels", {})
    kept = cache.get("limiter")
    cache["limiter"] = MemoryLimiter(clock=lambda: 1000.0)  # time stands still: no token comes back
    try:
        for _ in range(previews.TEST_BURST):
            previews.send_test(survey, "en", "email", staff, "[Test]")
        with pytest.raises(previews.TooSoon) as refused:
            previews.send_test(survey, "en", "email", staff, "[Test]")
        assert refused.value.retry_after == 12
        other = users.create_user("admin@example.com", "admin", "correct horse battery")
        previews.send_test(survey, "en", "email", other, "[Test]")  # someone else's tests are their own
    finally:
        if kept is None:
            cache.pop("limiter")
        else:
            cache["limiter"] = kept
    assert db.session.scalar(sa.select(sa.func.count(SandboxMessage.id))) == previews.TEST_BURST + 1
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2


def test_the_sms_price_and_currency_come_from_the_environment(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "x" * 20}
    assert (load_settings(tmp_path, base).sms_segment_price, load_settings(tmp_path, base).sms_currency) == \
        (0.0083, "USD")
    chosen = load_settings(tmp_path, {**base, "SURVEYD_SMS_SEGMENT_PRICE": "0.05", "SURVEYD_SMS_CURRENCY": "try"})
    assert (chosen.sms_segment_price, chosen.sms_currency) == (0.05, "TRY")
    for name, value in (("SURVEYD_SMS_SEGMENT_PRICE", "-1"), ("SURVEYD_SMS_SEGMENT_PRICE", "cheap"),
                        ("SURVEYD_SMS_CURRENCY", "dollars")):
        with pytest.raises(ConfigError, match=name):
            load_settings(tmp_path, {**base, name: value})

