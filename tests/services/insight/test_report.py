"""The periodic report: its periods, its figures against the data that made them, its words in every locale
against golden files, the PDF, the email it sends and the schedule that sends it once.

After a deliberate change of wording or figures, regenerate the golden files and review the diff:

    SNAPSHOT_UPDATE=1 .venv/bin/python -m pytest tests/services/insight/test_report.py -q
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import ReportRun, SandboxMessage
from surveyd.services.errors import Invalid
from surveyd.services.insight import periods, reporting
from surveyd.services.insight import report as reports
from surveyd.services.insight.report_pdf import render
from surveyd.services.insight.root_causes import root_causes
from tests.services.insight import report_data

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SNAPSHOT_UPDATE") == "1"
ORDER = ("awareness", "consideration", "purchase", "post_purchase", "support")
OCTOBER = periods.parse_month("2026-10", "UTC")


@pytest.fixture
def data(api, client, app):
    return report_data.build(api, client, app)


def test_periods_follow_the_zone_calendar():
    istanbul = periods.parse_month("2026-10", "Europe/Istanbul")
    assert istanbul.since == datetime(2026, 9, 30, 21, tzinfo=timezone.utc)
    assert istanbul.until == datetime(2026, 10, 31, 21, tzinfo=timezone.utc)
    assert istanbul.previous().label == "2026-09" and periods.parse_month("2026-01", "UTC").previous().label == "2025-12"
    tehran = periods.parse_month("2026-03", "Asia/Tehran")
    assert tehran.since == datetime(2026, 2, 28, 20, 30, tzinfo=timezone.utc)
    new_york = periods.parse_month("2026-11", "America/New_York")  # the clocks went back on November 1st
    assert new_york.since.hour == 4 and new_york.until.hour == 5
    week = periods.last_complete("week", datetime(2026, 10, 7, 12, tzinfo=timezone.utc), "UTC")
    assert (week.start, week.end, week.label) == (date(2026, 9, 28), date(2026, 10, 5), "2026-W40")
    assert periods.last_complete("month", datetime(2026, 11, 1, 0, 30, tzinfo=timezone.utc), "UTC").label == "2026-10"
    assert periods.last_complete("month", datetime(2026, 10, 31, 22, tzinfo=timezone.utc),
                                 "Europe/Istanbul").label == "2026-10"


@pytest.mark.parametrize("text", ["", "2026", "2026-13", "2026-00", "26-10", "2026-1", "1969-12", "2026-10-01",
                                  "abcd-ef", "２０２６-１０"])
def test_a_month_that_is_not_yyyy_mm_is_refused(text):
    with pytest.raises(Invalid) as refused:
        periods.parse_month(text, "UTC")
    assert set(refused.value.fields) == {"month"}


def test_the_report_counts_what_the_data_set_holds(data, ctx):
    report = reports.build(OCTOBER, ORDER)
    by_kind = {figure.kind: figure for figure in report.surveys}
    csat, nps = by_kind["csat"], by_kind["nps"]
    october_csat = [s for kind, s, _, at in report_data.ANSWERS if kind == "csat" and at.month == 10]
    assert csat.current["n"] == len(october_csat) == 8
    assert csat.current["score"] == round(100 * sum(s >= 4 for s in october_csat) / 8, 2) == 75.0
    assert csat.previous["n"] == 4 and csat.previous["score"] == 50.0
    assert csat.change == 25.0 and csat.clear_change is False  # 8 and 4 answers: far from a clear change
    assert (csat.sent, csat.answered) == (8, 8) and (nps.sent, nps.answered) == (4, 4)
    assert nps.current["score"] == 25.0 and nps.previous["score"] == 0.0
    # Alerts on the low scores (CSAT 1-2, NPS 0-6): three raised in October, three in September. Resolved in
    # October: after 45 minutes, 10 hours and 2 days, against a due time of 4 hours; September's NPS 3 never was.
    assert report.alerts.raised == 3 and report.alerts.previous_raised == 3
    assert report.alerts.resolved == 3 and report.alerts.previous_resolved == 2
    assert report.alerts.median_minutes_to_resolve == 600.0
    assert report.alerts.resolved_in_time == 1
    assert report.alerts.open_at_end == 1
    assert [(c["root_cause"], c["count"], c["touchpoint"]) for c in report.root_causes] == [
        ("billing", 1, "refund.paid"), ("delivery", 1, "order.delivered"), ("staff", 1, "ticket.closed")]
    stages = {stage["stage"]: stage for stage in report.journey}
    assert [stage["stage"] for stage in report.journey] == list(ORDER)
    assert stages["post_purchase"]["csat"]["n"] == 6 and stages["support"]["csat"]["n"] == 2
    assert stages["support"]["nps"]["n"] == 4 and "nps" not in stages["post_purchase"]


def test_the_month_follows_the_configured_zone(data, ctx):
    """22:30 UTC on October 31st is November 1st in Istanbul: it leaves October's report there."""
    utc = {f.kind: f for f in reports.build(OCTOBER, ORDER).surveys}
    istanbul = {f.kind: f for f in reports.build(periods.parse_month("2026-10", "Europe/Istanbul"), ORDER).surveys}
    assert utc["csat"].current["n"] == 8 and istanbul["csat"].current["n"] == 7


def test_root_causes_roll_up_per_touchpoint_and_stage(data, ctx):
    since, until = datetime(2026, 9, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc)
    everything = root_causes(since, until)
    assert everything["resolved"] == 5
    assert [(c["root_cause"], c["count"]) for c in everything["causes"]] == [("billing", 2), ("delivery", 2),
                                                                            ("staff", 1)]
    by_touchpoint = {g["key"]: g for g in root_causes(since, until, "touchpoint")["groups"]}
    assert by_touchpoint["refund.paid"]["causes"] == [{"root_cause": "billing", "count": 2, "share": 1.0}]
    assert by_touchpoint["order.delivered"]["resolved"] == 2
    by_stage = {g["key"]: g["resolved"] for g in root_causes(since, until, "stage")["groups"]}
    assert by_stage == {"support": 3, "post_purchase": 2}
    with pytest.raises(Invalid):
        root_causes(since, until, "agent")
    with pytest.raises(Invalid):
        root_causes(until, since)


@pytest.mark.parametrize("locale", ["en", "tr", "fa"])
def test_the_report_reads_as_its_golden_file(data, ctx, locale):
    view = reporting.view(OCTOBER, locale)
    subject, text, html = reporting.compose(view, OCTOBER)
    rendered = f"Subject: {subject}\n\n{text}\n"
    path = GOLDEN / f"report-2026-10.{locale}.txt"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")
    assert f'lang="{locale}"' in html and ('dir="rtl"' in html) == (locale == "fa")
    for table in view.tables:
        assert table.title in html


def test_names_from_staff_are_escaped_in_the_html(api, client, app, ctx):
    from tests.api.helpers import create_survey, create_trigger, survey_answer

    made = create_survey(api, name="<script>alert(1)</script>", kind="csat", locales=["en"])
    create_trigger(api, made["id"])
    survey_answer(api, client, 5)
    period = periods.month_period(datetime.now(timezone.utc).date(), "UTC")
    _, _, html = reporting.compose(reporting.view(period, "en"), period)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_the_pdf_is_a_pdf_holding_the_report(data, ctx, locale):
    body = render(reporting.view(OCTOBER, locale))
    assert body.startswith(b"%PDF-1.") and body.rstrip().endswith(b"%%EOF")
    assert len(body) > 5000
    assert b"/Lang" in body


def test_sending_emails_each_recipient_and_refuses_without_any(data, ctx):
    assert reporting.send(OCTOBER, ["cx-lead@shop.test", "ceo@shop.test"]) == 2
    mails = db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.extra["audience"].as_string() == "report")
                               .order_by(SandboxMessage.id)).all()
    assert [m.recipient for m in mails] == ["cx-lead@shop.test", "ceo@shop.test"]
    assert mails[0].subject == "surveyd report for October 2026" and "Delivery CSAT" in mails[0].text
    for refused in ([], ["  "], ["not-an-address"]):
        with pytest.raises(Invalid):
            reporting.send(OCTOBER, refused)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SandboxMessage)
                             .where(SandboxMessage.extra["audience"].as_string() == "report")) == 2


def test_the_schedule_sends_the_finished_month_once(data, app, monkeypatch):
    from surveyd.services import runtime

    with app.app_context():
        current = runtime.settings()
        monkeypatch.setattr(runtime, "settings", lambda: current.__class__(**{**current.__dict__,
                                                                              "report_to": ("lead@shop.test",)}))
        monkeypatch.setattr(reporting, "settings", runtime.settings)
        november_2nd = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
        assert reporting.send_due(datetime(2026, 10, 3, tzinfo=timezone.utc)) == 1  # September's, two days late
        assert reporting.send_due(november_2nd) == 1
        assert reporting.send_due(november_2nd) == 0  # claimed and sent: never twice
        assert reporting.send_due(datetime(2026, 11, 20, tzinfo=timezone.utc)) == 0  # too late for a surprise
        runs = db.session.execute(sa.select(ReportRun.period_start, ReportRun.recipients)
                                  .order_by(ReportRun.period_start)).all()
        assert runs == [(date(2026, 9, 1), 1), (date(2026, 10, 1), 1)]
        db.session.remove()


def test_a_claim_whose_sender_died_is_taken_over_later(data, app, monkeypatch):
    from surveyd.services import runtime

    with app.app_context():
        current = runtime.settings()
        monkeypatch.setattr(reporting, "settings", lambda: current.__class__(**{**current.__dict__,
                                                                               "report_to": ("lead@shop.test",)}))
        now = datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
        db.session.add(ReportRun(cadence="month", period_start=date(2026, 10, 1), created_at=now))
        db.session.commit()
        assert reporting.send_due(now.replace(minute=10)) == 0  # another process holds it
        assert reporting.send_due(now.replace(hour=7)) == 1  # it never finished: taken over
        db.session.remove()
