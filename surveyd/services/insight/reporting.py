"""Sending the periodic report: on demand (`surveyd report send`) and by itself once a period is over (a relay
chore). A scheduled period is claimed in `report_runs` before anything is sent, so relays in several processes
send it once; a claim whose sending never finished is taken over after CLAIM_MINUTES."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

import survey_templates
from bots.channel import OutboundMessage
from surveyd.extensions import db
from surveyd.models import Channel, ReportRun, utcnow
from surveyd.services.dispatch import channels
from surveyd.services.errors import Invalid
from surveyd.services.insight import report as reports
from surveyd.services.insight import themes
from surveyd.services.insight.periods import Period, last_complete
from surveyd.services.insight.report_view import ReportView, present
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 300.0
CLAIM_MINUTES = 30
# A period's report goes out within this long after it ends, never later: a new installation or a server that
# was off for weeks does not send old reports by surprise (`surveyd report send --month` still can).
SEND_WITHIN = {"month": timedelta(days=7), "week": timedelta(days=2)}


def view(period: Period, locale: str) -> ReportView:
    """The report for a period, in words (read only)."""
    from surveyd.services.insight import goals as goal_progress

    current = settings()
    report = reports.build(period, current.journey_stages,
                           goal_progress.report_goals(reports.as_of(period), since=period.start))
    return present(report, locale)


def report_url(period: Period) -> str | None:
    """Where the console shows this report, when surveyd knows its public address."""
    base = settings().public_url
    return f"{base}/console/reports/{period.label}" if base else None


def compose(report_view: ReportView, period: Period) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the report email."""
    url = report_url(period)
    pdf_url = f"{url}.pdf" if url else None
    context = {"view": report_view, "url": url, "pdf_url": pdf_url}
    return (report_view.subject,
            survey_templates.render_message("report_email.txt", report_view.locale, **context),
            survey_templates.render_message("report_email.html", report_view.locale, **context))


def send(period: Period, to: list[str] | tuple[str, ...]) -> int:
    """Email the period's report to each address; the number sent. Refuses when there is nobody to send to or
    no email channel; one failing mailbox does not keep the others from theirs."""
    recipients = [address.strip() for address in to if address.strip()]
    if not recipients:
        raise Invalid("nobody to send the report to", {"to": ["Give --to or set SURVEYD_REPORT_TO."]})
    if any("@" not in address for address in recipients):
        raise Invalid("not an email address", {"to": ["Each recipient must be an email address."]})
    adapter = channels.adapters().get(Channel.EMAIL)
    if adapter is None:
        raise Invalid("the email channel is off", {"to": ["Configure SURVEYD_SMTP_HOST (or the sandbox)."]})
    if period.cadence == "month":
        try:  # the report lists the month's themes: group or place its last comments first
            themes.build(period)
        except Exception:  # themes are one table of the report; the report goes out without new ones
            db.session.rollback()
            log.exception("themes of %s could not be brought up to date before its report", period.label)
    subject, text, html = compose(view(period, settings().report_locale), period)
    db.session.rollback()  # nothing held while talking to the mail server
    sent = 0
    for address in recipients:
        try:
            adapter.send(OutboundMessage(channel="email", to=address, subject=subject, text=text, html=html,
                                         locale=settings().report_locale,
                                         extra={"audience": "report", "period": period.label}))
            sent += 1
        except Exception:
            log.exception("could not send the %s report to a recipient", period.label)
    db.session.commit()  # the sandbox's copies, when the email channel is sandboxed
    return sent


def send_due(now: datetime | None = None) -> int:
    """The relay's chore: send the last finished period's report once, when recipients are configured and the
    period ended less than SEND_WITHIN ago. Returns the number of emails sent."""
    current = settings()
    now = now or utcnow()
    if not current.report_to:
        return 0
    period = last_complete(current.report_cadence, now, current.default_timezone)
    if now - period.until > SEND_WITHIN[period.cadence] or not _claim(period, now):
        return 0
    sent = send(period, current.report_to)
    run = db.session.scalar(sa.select(ReportRun).where(
        ReportRun.cadence == period.cadence, ReportRun.period_start == period.start))
    run.recipients, run.sent_at = sent, utcnow()
    db.session.commit()
    log.info("sent the %s report to %d recipients", period.label, sent)
    return sent


def _claim(period: Period, now: datetime) -> bool:
    """Take the period for this process: a new row, or one whose claimer stopped before sending."""
    stale = now - timedelta(minutes=CLAIM_MINUTES)
    taken = db.session.execute(
        sa.update(ReportRun)
        .where(ReportRun.cadence == period.cadence, ReportRun.period_start == period.start,
               ReportRun.sent_at.is_(None), ReportRun.created_at < stale)
        .values(created_at=now)
    ).rowcount
    if taken:
        db.session.commit()
        return True
    exists = db.session.scalar(sa.select(ReportRun.id).where(
        ReportRun.cadence == period.cadence, ReportRun.period_start == period.start))
    if exists:
        db.session.rollback()
        return False
    db.session.add(ReportRun(cadence=period.cadence, period_start=period.start, created_at=now))
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # another relay claimed it between our look and our insert
        db.session.rollback()
        return False
    return True
