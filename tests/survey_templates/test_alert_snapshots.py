"""The agents' alert notifications (email subject, text and HTML; Telegram) in every locale, against snapshots.

Snapshots live in tests/survey_templates/snapshots/<template>-<event>.<locale>.txt, for an alert just
raised and one escalated past its due time. After a deliberate wording or template change, regenerate
them and review the diff:

    SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest tests/survey_templates -q
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from survey_templates import catalog
from survey_templates.catalog import available_locales
from surveyd.services.alerts import messages
from surveyd.services.alerts.facts import AlertFacts, PastAnswer

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
MESSAGES_DIR = Path(catalog.__file__).parent / "messages"
UPDATE = os.environ.get("SNAPSHOT_UPDATE") == "1"
LOCALES = list(available_locales())
EVENTS = ("created", "escalated")
URL = "https://cx.acme.example/console/alerts/42"
SCRIPT = "<script>alert('x')</script>"

# Each alert template and how the public renderer gives its output.
RENDERED = {
    "alert_email.subject.txt": lambda facts: messages.email_parts(facts)[0],
    "alert_email.txt": lambda facts: messages.email_parts(facts)[1],
    "alert_email.html": lambda facts: messages.email_parts(facts)[2],
    "alert_telegram.txt": messages.telegram_text,
}


def alert_facts(event: str = "created", locale: str = "en") -> AlertFacts:
    """A detractor alert as an agent would get it: Turkish and Persian comments, hostile event attributes."""
    escalated = event == "escalated"
    return AlertFacts(
        alert_id=42, url=URL, event=event, survey_name="Delivery NPS", kind="nps", score=3, scale=(0, 10),
        reasons=("score", "keyword:iade", "sentiment"),
        comments=("Kargo üç gün gecikti, kutu ezik geldi.\nİade istiyorum!", "پشتیبانی هیچ‌وقت جواب تلفن را نداد."),
        customer_name="Ayşe Yılmaz", customer_ref="cust-1042", answered_on="sms", customer_locale="tr",
        touchpoint="order.delivered",
        attributes={"order_id": "A-1042", "store": "Kadıköy & Moda", "agent": SCRIPT, "total": 249.9},
        raised_at=datetime(2026, 12, 2, 14, 5, tzinfo=timezone.utc),
        status="claimed" if escalated else "open", assignee="mehmet@acme.example" if escalated else None,
        due_at=datetime(2026, 12, 2, 16, 5, tzinfo=timezone.utc),
        history=(
            PastAnswer(datetime(2026, 11, 20, 9, 12, tzinfo=timezone.utc), "Delivery NPS", "nps", 8, "email"),
            PastAnswer(datetime(2026, 10, 3, 18, 40, tzinfo=timezone.utc), "Support CSAT", "csat", 2, "telegram"),
        ),
        locale=locale,
    )


CASES = [(template, event, locale) for template in RENDERED for event in EVENTS for locale in LOCALES]


def _snapshot_name(template: str, event: str, locale: str) -> str:
    return f"{template}-{event}.{locale}.txt"


def test_every_alert_template_is_snapshotted():
    on_disk = {p.name[: -len(".j2")] for p in MESSAGES_DIR.glob("alert_*.j2")}
    assert on_disk == set(RENDERED)


@pytest.mark.parametrize(("template", "event", "locale"), CASES,
                         ids=[_snapshot_name(*case)[: -len(".txt")] for case in CASES])
def test_alert_message_matches_snapshot(template, event, locale):
    rendered = RENDERED[template](alert_facts(event, locale))
    path = SNAPSHOT_DIR / _snapshot_name(template, event, locale)
    if UPDATE:
        path.write_text(rendered + "\n", encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(f"snapshot {path} is missing; create it with SNAPSHOT_UPDATE=1 and review it")
    assert rendered + "\n" == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if intended, regenerate with SNAPSHOT_UPDATE=1")


def test_no_orphan_alert_snapshots():
    if UPDATE:
        pytest.skip("snapshots are being rewritten")
    stored = {p.name for p in SNAPSHOT_DIR.glob("alert_*.txt")}
    assert stored - {_snapshot_name(*case) for case in CASES} == set(), "alert snapshots with no case; delete them"


@pytest.mark.parametrize(("template", "event", "locale"), CASES)
def test_every_placeholder_is_filled(template, event, locale):
    rendered = RENDERED[template](alert_facts(event, locale))
    assert not re.search(r"\{[a-z_]*\}", rendered), rendered
    assert "None" not in rendered and "alert." not in rendered  # no missing value, no untranslated key


@pytest.mark.parametrize("locale", LOCALES)
def test_an_escalated_alert_says_so_first(locale):
    prefix = catalog.translate(locale, "alert.overdue_prefix")
    subject = messages.email_parts(alert_facts("escalated", locale))[0]
    assert subject.startswith(prefix + " ")
    assert messages.telegram_text(alert_facts("escalated", locale)).startswith(f"<b>{prefix} ")
    assert not messages.email_parts(alert_facts("created", locale))[0].startswith(prefix)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_subject_names_survey_score_and_customer(locale):
    subject = messages.email_parts(alert_facts("created", locale))[0]
    score = catalog.translate(locale, "alert.score_of", score=catalog.locale_info(locale).localize_digits(3),
                              max=catalog.locale_info(locale).localize_digits(10))
    assert "Delivery NPS" in subject and score in subject and "Ayşe Yılmaz" in subject
    assert subject == " ".join(subject.split()), "one line, no doubled spaces"


def test_persian_formats_numbers_in_persian_digits_and_keeps_urls_and_ids_ascii():
    subject, text, html = messages.email_parts(alert_facts("escalated", "fa"))
    assert "۳ از ۱۰" in subject and "۲۰۲۶-۱۲-۰۲ ۱۴:۰۵ UTC" in text
    assert "3/10" not in text and "2026" not in text
    assert URL in text and "#42" in text and "cust-1042" in text and "A-1042" in text
    assert f'href="{URL}"' in html
