"""The pure alert renderers: every target's limits, escaping, right-to-left markup and JSON-safe webhook data."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timezone
from html.parser import HTMLParser

import pytest

from surveyd.services.alerts import messages
from surveyd.services.alerts.facts import AlertFacts, PastAnswer
from surveyd.services.design.scales import BANDS

SCRIPT = "<script>alert(1)</script>"
URL = "https://cx.acme.example/console/alerts/7?from=mail&x=1"


def facts(**changes) -> AlertFacts:
    """An alert with a hostile script in every field a customer or an integrator fills."""
    base = AlertFacts(
        alert_id=7, url=URL, event="created", survey_name="Support CSAT", kind="csat", score=1, scale=(1, 5),
        reasons=("score", f"keyword:{SCRIPT}", "sentiment"), comments=(f"Terrible {SCRIPT} & rude",),
        customer_name=f"Eve {SCRIPT}", customer_ref="eve-1", answered_on="web", customer_locale="en",
        touchpoint="ticket.closed", attributes={"agent": SCRIPT, SCRIPT: "key", "ticket": "T-9"},
        raised_at=datetime(2026, 12, 2, 14, 5, tzinfo=timezone.utc), status="open", assignee=None, due_at=None,
        history=(PastAnswer(datetime(2026, 11, 1, 8, 0), "Support CSAT", "csat", 4, "email"),), locale="en",
    )
    return replace(base, **changes)


def slack_texts(body: dict) -> list[str]:
    """Every mrkdwn text in a Slack body, the fallback included."""
    texts = [body["text"]]
    for block in body["blocks"]:
        texts += [f["text"] for f in block.get("fields", [])]
        if block["type"] == "section" and "text" in block:
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


@pytest.mark.parametrize("locale", ["en", "tr", "fa"])
def test_a_script_is_escaped_in_every_marked_up_output(locale):
    alert = facts(locale=locale)
    subject, text, html = messages.email_parts(alert)
    telegram = messages.telegram_text(alert)
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<script" not in telegram and "&lt;script&gt;" in telegram
    assert set(re.findall(r"</?([a-z]+)", telegram)) <= {"b", "i", "a", "code"}  # Telegram's HTML mode knows no more
    for mrkdwn in slack_texts(messages.slack_message(alert)):
        assert "<script" not in mrkdwn
    assert "&lt;script&gt;" in messages.slack_message(alert)["blocks"][2]["text"]["text"]
    # Plain text is not markup: there the words are shown as typed.
    assert SCRIPT in text and "&lt;" not in text and "\n" not in subject


def test_telegram_fits_4096_characters_with_a_10000_character_comment():
    alert = facts(comments=("Çok kötü. " * 1000, "😡" * 3000), attributes={f"k{n}": "&" * 300 for n in range(30)})
    text = messages.telegram_text(alert)
    assert len(text.encode("utf-16-le")) // 2 <= messages.TELEGRAM_LIMIT
    assert "…" in text and URL.replace("&", "&amp;") in text


def test_telegram_still_fits_when_every_name_is_enormous():
    huge = "&<" * 5000
    alert = facts(survey_name=huge, customer_name=huge, customer_ref=huge, touchpoint=huge, assignee=huge,
                  comments=(huge,) * 20, reasons=(f"keyword:{huge}",) * 20)
    text = messages.telegram_text(alert)
    assert len(text.encode("utf-16-le")) // 2 <= messages.TELEGRAM_LIMIT and "<&" not in text


def test_slack_blocks_keep_within_slacks_limits():
    long = "x & y < z " * 2000
    body = messages.slack_message(facts(survey_name=long, customer_name=long, comments=(long,) * 8,
                                        assignee=long, due_at=datetime(2026, 12, 2, 16, 5, tzinfo=timezone.utc)))
    header, fields, quotes, context, actions = body["blocks"]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    assert fields["type"] == "section" and len(fields["fields"]) <= 10
    assert all(len(field["text"]) <= 2000 for field in fields["fields"])
    assert quotes["type"] == "section" and len(quotes["text"]["text"]) <= 3000
    assert quotes["text"]["text"].count("\n>") == 5 and "&amp;" in quotes["text"]["text"]
    assert context["type"] == "context" and all(len(e["text"]) <= 3000 for e in context["elements"])
    (button,) = actions["elements"]
    assert actions["type"] == "actions" and button["type"] == "button" and button["url"] == URL
    assert button["text"] == {"type": "plain_text", "text": "Open alert"}
    # A cut never splits an entity.
    assert not re.search(r"&(?!amp;|lt;|gt;)", "".join(slack_texts(body)).replace(URL, ""))


def test_slack_fields_name_score_survey_customer_touchpoint_and_channel():
    body = messages.slack_message(facts(customer_name="Ayşe", comments=()))
    fields = [field["text"] for field in body["blocks"][1]["fields"]]
    assert fields[:5] == ["*Score*\n1/5 · Dissatisfied", "*Survey*\nSupport CSAT", "*Customer*\nAyşe · eve-1",
                          "*Touchpoint*\nticket.closed", "*Answered on*\nWeb page"]
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context", "actions"]


def test_webhook_data_is_json_with_utc_times():
    alert = facts(attributes={"delivered_on": date(2026, 12, 1), "total": 12.5, "tags": ["a", "b"]},
                  due_at=datetime(2026, 12, 2, 17, 35, tzinfo=timezone.utc), event="escalated")
    data = json.loads(json.dumps(messages.webhook_data(alert)))
    assert data["alert_id"] == 7 and data["url"] == URL and data["event"] == "escalated"
    assert (data["survey_name"], data["kind"], data["score"], data["scale"]) == ("Support CSAT", "csat", 1, [1, 5])
    assert data["attributes"] == {"delivered_on": "2026-12-01", "total": 12.5, "tags": ["a", "b"]}
    assert data["raised_at"] == "2026-12-02T14:05:00Z" and data["due_at"] == "2026-12-02T17:35:00Z"
    assert data["comments"] == list(alert.comments) and data["customer_name"] == alert.customer_name


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))


def test_the_persian_email_is_right_to_left_and_comments_keep_their_own_direction():
    html = messages.email_parts(facts(locale="fa", comments=("Kargo gecikti", "خیلی دیر رسید")))[2]
    assert '<html lang="fa" dir="rtl">' in html
    assert "text-align:left" not in html and 'dir="ltr"' in html  # only the bare URL runs left to right
    tags = _Tags()
    tags.feed(html)
    comment_cells = [attrs for tag, attrs in tags.seen if tag == "td" and "#f6f8fa" in (attrs.get("style") or "")]
    assert len(comment_cells) == 2 and all(cell.get("dir") == "auto" for cell in comment_cells)
    english = messages.email_parts(facts(locale="en"))[2]
    assert '<html lang="en" dir="ltr">' in english and "text-align:right" not in english


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_the_email_html_keeps_to_what_mail_clients_render(locale):
    html = messages.email_parts(facts(locale=locale, event="escalated"))[2]
    tags = _Tags()
    tags.feed(html)
    assert not {tag for tag, _ in tags.seen} & {"script", "style", "link", "img", "form", "iframe", "svg"}
    for tag, attrs in tags.seen:
        style = (attrs.get("style") or "").replace(" ", "")
        assert not any(bad in style for bad in ("display:flex", "display:grid", "position:", "float:")), style
        if tag == "table":
            assert attrs.get("role") == "presentation" and attrs.get("cellpadding") == "0", attrs
    assert [attrs["href"] for tag, attrs in tags.seen if tag == "a"] == [URL, URL]
    assert all(int(width) <= 600 for width in re.findall(r"max-width:(\d+)px", html))


def test_unknown_status_channel_and_reason_show_as_they_are():
    alert = facts(status="snoozed", answered_on="whatsapp", reasons=("vip",), score=None)
    text = messages.email_parts(alert)[1]
    assert "snoozed" in text and "whatsapp" in text and "- vip" in text and "No score" in text


def test_at_most_ten_attributes_cut_at_100_characters_and_five_history_entries_newest_first():
    history = tuple(PastAnswer(datetime(2026, 1, day, tzinfo=timezone.utc), "NPS", "nps", day, "sms")
                    for day in range(1, 9))
    alert = facts(attributes={f"key{n:02}": "v" * 150 for n in range(12)}, history=history)
    text = messages.email_parts(alert)[1]
    assert text.count("- key") == 10 and "key10" not in text and "and 2 more" in text
    assert "v" * 99 + "…" in text and "v" * 100 not in text
    days = re.findall(r"2026-01-0(\d) 00:00 UTC", text)
    assert days == ["8", "7", "6", "5", "4"]


def test_the_score_meaning_follows_the_design_bands():
    assert BANDS["nps"] == (6, 9) and BANDS["ces"] == (3, 5)
    assert "(Passive)" in messages.email_parts(facts(kind="nps", score=7, scale=(0, 10)))[1]
    assert "(Difficult)" in messages.email_parts(facts(kind="ces", score=3, scale=(1, 7)))[1]
