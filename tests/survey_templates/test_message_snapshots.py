"""Every message template rendered in every locale, compared with a stored snapshot.

Snapshots live in tests/survey_templates/snapshots/<template>.<locale>.txt (the anonymous
variant as <template>-anonymous.<locale>.txt). After a deliberate wording or template change,
regenerate them and review the diff:

    SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest tests/survey_templates -q
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bots.sms_segments import count_segments
from survey_templates import catalog
from survey_templates.catalog import available_locales, builtin_survey, render_message

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
MESSAGES_DIR = Path(catalog.__file__).parent / "messages"
UPDATE = os.environ.get("SNAPSHOT_UPDATE") == "1"

# Agent-facing alert templates take an AlertFacts context, not an invitation's: test_alert_snapshots.py covers them;
# the report's take a report view: tests/services/insight/test_report.py checks them against golden files.
ALERT_PREFIX = ("alert_", "report_")
TEMPLATES = sorted(p.name[: -len(".j2")] for p in MESSAGES_DIR.glob("*.j2") if not p.name.startswith(ALERT_PREFIX))
LOCALES = list(available_locales())
URL = "https://surveys.example.com/s/TOKEN"
SMS_URL = "https://surveys.example.com/s/AbCdEf1234"  # 40 characters
CONTACT = "Ayşe"
ANONYMOUS_TEMPLATE = "telegram_invitation.txt"


def _nps_score(locale: str) -> dict:
    survey = builtin_survey("nps", LOCALES)
    (score,) = [q for q in survey["questions"] if q["id"] == "score"]
    return score


def _nps_question(locale: str) -> str:
    return _nps_score(locale)["text"][locale]


UNSUBSCRIBE = "https://surveys.example.com/u/e42.MAC"
TELEGRAM = "https://t.me/acme_cx_bot?start=AbCdEfGhIjKlMnOp"


def _email_context(locale: str) -> dict:
    """What compose() hands an email template: one link per score, the scale's ends, the unsubscribe page."""
    digits = catalog.locale_info(locale).localize_digits
    score = _nps_score(locale)
    return {
        "score_links": [(digits(n), f"{URL}?score={n}") for n in range(11)],
        "low_label": score["low_label"][locale], "high_label": score["high_label"][locale],
        "legend": catalog.translate(locale, "telegram.legend", low=digits(0), high=digits(10),
                                    low_label=score["low_label"][locale], high_label=score["high_label"][locale]),
        "unsubscribe_url": UNSUBSCRIBE,
    }


def _snapshot_name(template: str, locale: str, contact_name: str | None, reminder: bool = False) -> str:
    variant = ("" if contact_name else "-anonymous") + ("-reminder" if reminder else "")
    return f"{template}{variant}.{locale}.txt"


CASES = [(t, loc, CONTACT, False) for t in TEMPLATES for loc in LOCALES] + [
    (ANONYMOUS_TEMPLATE, loc, None, False) for loc in LOCALES
] + [(t, loc, CONTACT, True) for t in TEMPLATES for loc in LOCALES]
# The invitations that can offer the Telegram bot, with the offer in.
OFFERS = [(t, loc) for t in ("email_invitation.html", "email_invitation.txt", "sms_invitation.txt") for loc in LOCALES]


def test_there_are_templates_to_snapshot():
    assert {"email_invitation.html", "email_invitation.txt", "sms_invitation.txt", "telegram_invitation.txt"} <= set(
        TEMPLATES
    )


@pytest.mark.parametrize(
    ("template", "locale", "contact_name", "reminder"),
    CASES,
    ids=[_snapshot_name(*case)[: -len(".txt")] for case in CASES],
)
def test_message_matches_snapshot(template, locale, contact_name, reminder):
    extra = _email_context(locale) if template.startswith("email_") else {}
    rendered = render_message(template, locale, question=_nps_question(locale), url=URL, low=0, high=10,
                              contact_name=contact_name, reminder=reminder, **extra)
    _compare(rendered, SNAPSHOT_DIR / _snapshot_name(template, locale, contact_name, reminder))


@pytest.mark.parametrize(("template", "locale"), OFFERS, ids=[f"{t}-telegram.{loc}" for t, loc in OFFERS])
def test_an_invitation_offering_telegram_matches_its_snapshot(template, locale):
    extra = _email_context(locale) if template.startswith("email_") else {}
    rendered = render_message(template, locale, question=_nps_question(locale), url=URL, low=0, high=10,
                              contact_name=CONTACT, telegram_link=TELEGRAM, **extra)
    assert rendered.count(TELEGRAM) == (2 if template.endswith(".html") else 1)  # the HTML links its own text
    _compare(rendered, SNAPSHOT_DIR / f"{template}-telegram.{locale}.txt")


def _compare(rendered: str, path: Path) -> None:
    if UPDATE:
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        path.write_text(rendered + "\n", encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(
            f"snapshot {path} is missing; create it with "
            f"SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest tests/survey_templates -q and review it"
        )
    expected = path.read_text(encoding="utf-8")
    assert rendered + "\n" == expected, f"{path.name} differs; if intended, regenerate with SNAPSHOT_UPDATE=1"


def test_no_orphan_snapshots():
    if UPDATE:
        pytest.skip("snapshots are being rewritten")
    expected = {_snapshot_name(*case) for case in CASES} | {f"{t}-telegram.{loc}.txt" for t, loc in OFFERS}
    stored = {p.name for p in SNAPSHOT_DIR.glob("*.txt") if not p.name.startswith(ALERT_PREFIX)}
    assert stored - expected == set(), "snapshot files with no matching template/locale; delete them"


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_placeholder_is_filled(template, locale):
    rendered = render_message(template, locale, question=_nps_question(locale), url=URL, low=0, high=10, contact_name=CONTACT)
    assert not re.search(r"\{[a-z_]*\}", rendered), rendered
    assert "None" not in rendered


def test_email_html_carries_locale_direction_and_language():
    fa = render_message("email_invitation.html", "fa", question=_nps_question("fa"), url=URL, low=0, high=10, contact_name=CONTACT)
    assert '<html lang="fa" dir="rtl">' in fa
    assert 'dir="ltr"' not in fa and "text-align:left" not in fa
    assert fa.count('dir="rtl"') == 3 and fa.count("text-align:right") == 2
    tr = render_message("email_invitation.html", "tr", question=_nps_question("tr"), url=URL, low=0, high=10, contact_name=CONTACT)
    assert '<html lang="tr" dir="ltr">' in tr and 'dir="rtl"' not in tr and "text-align:right" not in tr


NASTY = "A&B <x>"


def test_email_html_escapes_the_contact_name_and_url():
    html = render_message(
        "email_invitation.html", "tr", question="Soru <b>?", url='https://e.com/s/?a=1&b="2"', contact_name=NASTY, low=0, high=10
    )
    assert "Merhaba A&amp;B &lt;x&gt;," in html
    assert NASTY not in html and "<x>" not in html and "<b>" not in html
    assert "Soru &lt;b&gt;?" in html
    assert 'href="https://e.com/s/?a=1&amp;b=&#34;2&#34;"' in html


@pytest.mark.parametrize("template", ["email_invitation.txt", "telegram_invitation.txt"])
def test_text_messages_do_not_escape(template):
    text = render_message(template, "fa", question="Q & <A>?", url="https://e.com/?a=1&b=2", contact_name=NASTY, low=0, high=10)
    assert f"سلام {NASTY} عزیز،" in text
    assert "Q & <A>?" in text and "https://e.com/?a=1&b=2" in text
    assert "&amp;" not in text and "&lt;" not in text


@pytest.mark.parametrize("contact_name", [CONTACT, None])
@pytest.mark.parametrize("locale", LOCALES)
def test_telegram_has_a_blank_line_after_the_greeting(locale, contact_name):
    question = _nps_question(locale)
    lines = render_message(
        "telegram_invitation.txt", locale, question=question, url=URL, contact_name=contact_name, low=0, high=10
    ).split("\n")
    assert lines == [lines[0], "", question, URL]
    assert (CONTACT in lines[0]) == bool(contact_name)


@pytest.mark.parametrize("template_id", ["nps", "csat", "ces"])
@pytest.mark.parametrize("locale", ["en", "tr", "fa"])
def test_sms_invitation_fits_two_segments(template_id, locale):
    assert len(SMS_URL) == 40
    (score,) = [q for q in builtin_survey(template_id, [locale])["questions"] if q["type"] == "scale"]
    low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[template_id]
    sms = render_message("sms_invitation.txt", locale, question=score["text"][locale], url=SMS_URL, low=low, high=high)
    assert sms.endswith(SMS_URL) and score["text"][locale] in sms
    cost = count_segments(sms)
    if locale == "en":
        assert cost.encoding == "GSM-7", f"English SMS should stay in the GSM alphabet: {cost.unicode_characters}"
        assert cost.segments == 1, f"{cost.units} septets: {sms!r}"
    else:
        assert cost.segments <= 2, f"{cost.units} UCS-2 characters (more than 2 segments): {sms!r}"


SMS_REPLIES = ("reprompt", "thanks", "expired", "already", "opted_out", "opted_in", "help")


@pytest.mark.parametrize("key", SMS_REPLIES)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_sms_reply_fits_one_segment(key, locale):
    text = catalog.translate(locale, f"sms.{key}", low=catalog.locale_info(locale).localize_digits(0),
                             high=catalog.locale_info(locale).localize_digits(10))
    cost = count_segments(text)
    assert cost.segments == 1, f"{key} in {locale}: {cost.units} {cost.encoding} units: {text!r}"
    assert (cost.encoding == "GSM-7") == (locale == "en"), cost.unicode_characters
    assert not re.search(r"\{[a-z_]*\}", text)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_email_puts_one_score_link_per_scale_point_in_reading_order(locale):
    html = render_message("email_invitation.html", locale, question=_nps_question(locale), url=URL, low=0, high=10,
                          contact_name=CONTACT, **_email_context(locale))
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)
    scores = [(href, label) for href, label in links if "?score=" in href]
    digits = catalog.locale_info(locale).localize_digits
    assert scores == [(f"{URL}?score={n}", digits(n)) for n in range(11)]
    # The scale runs in the reader's direction: 0 on the right in Persian, as on the survey page.
    direction = "rtl" if locale == "fa" else "ltr"
    assert f'<table role="presentation" dir="{direction}" width="100%" cellpadding="0" cellspacing="0" border="0" style="table-layout:fixed;">' in html
    assert f'href="{UNSUBSCRIBE}"' in html
    assert "<img" not in html  # reads the same with images blocked


def test_an_email_without_score_links_falls_back_to_one_button():
    html = render_message("email_invitation.html", "en", question="Q?", url=URL, low=0, high=10, contact_name=None)
    assert f'<a href="{URL}" style="display:inline-block' in html and "?score=" not in html


@pytest.mark.parametrize("reminder", [False, True])
@pytest.mark.parametrize("template", ["email_invitation.txt", "email_invitation.html", "email_invitation.subject.txt"])
def test_the_surveys_own_words_replace_the_built_in_ones(template, reminder):
    own = {"own_subject": "How was order A-1?", "own_intro": "Thanks for shopping at Moda."}
    rendered = render_message(template, "en", question=_nps_question("en"), url=URL, low=0, high=10,
                              contact_name=CONTACT, reminder=reminder, **own, **_email_context("en"))
    default_intro = catalog.translate("en", "messages.email_intro")
    if template.startswith("email_invitation.subject"):
        assert rendered == ("Reminder: " if reminder else "") + "How was order A-1?"
    else:
        assert own["own_intro"] in rendered and default_intro not in rendered
        # A reminder says it is one, then the survey's own sentence.
        assert (catalog.translate("en", "messages.email_reminder_intro") in rendered) == reminder


EMAIL_VARIANTS = [(loc, reminder, offer) for loc in LOCALES for reminder in (False, True) for offer in (False, True)]


@pytest.mark.parametrize(("locale", "reminder", "offer"), EMAIL_VARIANTS)
def test_the_email_html_keeps_to_what_every_common_mail_client_renders(locale, reminder, offer):
    """The usual email-safe subset (what Outlook's Word engine, Gmail and Apple Mail all honour)."""
    from html.parser import HTMLParser

    html = render_message("email_invitation.html", locale, question=_nps_question(locale), url=URL, low=0, high=10,
                          contact_name=CONTACT, reminder=reminder, telegram_link=TELEGRAM if offer else "",
                          **_email_context(locale))
    seen: list[tuple[str, dict]] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            seen.append((tag, dict(attrs)))

    Reader().feed(html)
    tags = {tag for tag, _ in seen}
    assert not tags & {"script", "style", "link", "img", "form", "input", "iframe", "video", "svg"}
    for tag, attrs in seen:
        style = (attrs.get("style") or "").replace(" ", "")
        for unsupported in ("display:flex", "display:grid", "position:", "float:", "background-image", "var(--"):
            assert unsupported not in style, (tag, style)
        if tag == "table":
            assert attrs.get("role") == "presentation" and attrs.get("cellpadding") == "0", attrs
            assert attrs.get("cellspacing") == "0" and attrs.get("border") == "0", attrs
        if tag == "a":
            assert attrs["href"].startswith(("https://", "http://")), attrs  # no relative or javascript: links
    widths = re.findall(r"max-width:(\d+)px", html)
    assert widths and all(int(w) <= 600 for w in widths)  # the classic safe width
    assert sum(1 for tag, _ in seen if tag == "a") == 11 + 2 + (1 if offer else 0)  # scores, survey, unsubscribe
