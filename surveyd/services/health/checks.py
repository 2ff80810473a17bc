"""The relay's health chore (every minute): each check looks at what the database already holds and says which
problems stand now; a problem opens an issue the first time it is seen and resolves when it is no longer seen,
and admins are told by email when an issue opens and when it resolves (the email channel's adapter; the console
and GET /api/v1/health show the open ones either way).

The checks, each with the numbers it needs before it speaks, so one failed send is not an outage:
- dispatch_stalled: dispatches due more than STALL_MINUTES ago still waiting to go out (no relay running, a
  broker down, workers stuck).
- failure_rate (per channel): in the last hour at least MIN_FAILURES failed for good, at least FAILURE_SHARE of the
  hour's sends, and at least FAILURE_JUMP times the day before's share.
- credentials (per channel): the provider refused surveyd's credentials in the last hour (reason provider_auth).
- response_rate (per survey): invitations sent 2 to 9 days ago were answered at half the rate or less of those
  sent 9 to 16 days ago, with at least MIN_SENT invitations in each week (the 2 days let answers arrive).
- signatures (per webhook source): at least SIGNATURE_FAILURES requests refused for their signature in the last
  SIGNATURE_MINUTES: usually SURVEYD_PUBLIC_URL differs from the URL the provider calls, or a wrong secret."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bots.channel import OutboundMessage
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchStatus,
    DispatchStatusChange,
    HealthIssue,
    Role,
    User,
    utcnow,
)
from surveyd.services.dispatch import channels
from surveyd.services.health import rejections
from surveyd.services.insight.drilldown import response_rates

log = logging.getLogger(__name__)
EVERY_SECONDS = 60.0
STALL_MINUTES = 10
MIN_FAILURES, FAILURE_SHARE, FAILURE_JUMP = 10, 0.2, 3.0
MIN_SENT = 20
SIGNATURE_FAILURES, SIGNATURE_MINUTES = 20, 10
WAITING = (DispatchStatus.SCHEDULED, DispatchStatus.QUEUED)


@dataclass(frozen=True)
class Finding:
    """A problem a check sees now."""

    kind: str
    key: str
    detail: dict[str, Any]


def stalled(now: datetime) -> list[Finding]:
    late = now - timedelta(minutes=STALL_MINUTES)
    waiting, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(Dispatch.due_at))
        .where(Dispatch.status.in_(WAITING), Dispatch.due_at < late)).one()
    if not waiting:
        return []
    return [Finding("dispatch_stalled", "outbox", {"waiting": waiting, "oldest_due_at": oldest.isoformat()})]


def _outcomes(since: datetime, until: datetime) -> dict[str, tuple[int, int]]:
    """Per channel: (failed for good, sent) among status changes in [since, until)."""
    failed = sa.func.count().filter(DispatchStatusChange.status == DispatchStatus.FAILED)
    sent = sa.func.count().filter(DispatchStatusChange.status == DispatchStatus.SENT)
    rows = db.session.execute(
        sa.select(DispatchStatusChange.channel, failed, sent)
        .where(DispatchStatusChange.at >= since, DispatchStatusChange.at < until,
               DispatchStatusChange.channel.is_not(None))
        .group_by(DispatchStatusChange.channel)).all()
    return {channel.value: (bad, good) for channel, bad, good in rows}


def failure_rates(now: datetime) -> list[Finding]:
    hour, day = _outcomes(now - timedelta(hours=1), now), _outcomes(now - timedelta(hours=25), now - timedelta(hours=1))
    found = []
    for channel, (bad, good) in hour.items():
        share = bad / (bad + good) if bad + good else 0.0
        before_bad, before_good = day.get(channel, (0, 0))
        before = before_bad / (before_bad + before_good) if before_bad + before_good else 0.0
        if bad >= MIN_FAILURES and share >= FAILURE_SHARE and share >= FAILURE_JUMP * before:
            found.append(Finding("failure_rate", channel, {"failed": bad, "sent": good, "share": round(share, 3),
                                                           "share_day_before": round(before, 3)}))
    return found


def credentials(now: datetime) -> list[Finding]:
    rows = db.session.execute(
        sa.select(DispatchStatusChange.channel, sa.func.count(), sa.func.max(DispatchStatusChange.at))
        .where(DispatchStatusChange.at >= now - timedelta(hours=1), DispatchStatusChange.reason == "provider_auth",
               DispatchStatusChange.channel.is_not(None))
        .group_by(DispatchStatusChange.channel)).all()
    return [Finding("credentials", channel.value, {"refused": count, "last_at": last.isoformat()})
            for channel, count, last in rows]


def response_rate_drops(now: datetime) -> list[Finding]:
    recent = response_rates(now - timedelta(days=9), now - timedelta(days=2))
    before = response_rates(now - timedelta(days=16), now - timedelta(days=9))
    found = []
    for survey_id, rate in recent.items():
        earlier = before.get(survey_id)
        if not earlier or rate.sent < MIN_SENT or earlier.sent < MIN_SENT or not earlier.answered:
            continue
        now_rate, then_rate = rate.answered / rate.sent, earlier.answered / earlier.sent
        if now_rate <= 0.5 * then_rate:
            found.append(Finding("response_rate", str(survey_id), {
                "rate": round(now_rate, 3), "rate_week_before": round(then_rate, 3), "sent": rate.sent,
                "sent_week_before": earlier.sent}))
    return found


def signatures(now: datetime) -> list[Finding]:
    refused = rejections.since(now - timedelta(minutes=SIGNATURE_MINUTES))
    return [Finding("signatures", source, {"refused": count, "minutes": SIGNATURE_MINUTES})
            for source, count in sorted(refused.items()) if count >= SIGNATURE_FAILURES]


CHECKS = (stalled, failure_rates, credentials, response_rate_drops, signatures)


def check(now: datetime | None = None) -> dict[str, list[HealthIssue]]:
    """Run every check; open, refresh and resolve issues (commits), then tell admins of what opened or resolved.
    Returns {"opened": [...], "resolved": [...]}."""
    now = now or utcnow()
    findings = {(finding.kind, finding.key): finding for run in CHECKS for finding in run(now)}
    open_issues = {(issue.kind, issue.key): issue for issue in db.session.scalars(
        sa.select(HealthIssue).where(HealthIssue.resolved_at.is_(None)).with_for_update())}
    opened, resolved = [], []
    for key, finding in findings.items():
        issue = open_issues.get(key)
        if issue is None:
            issue = HealthIssue(kind=finding.kind, key=finding.key, detail=finding.detail, opened_at=now,
                                last_seen_at=now)
            db.session.add(issue)
            opened.append(issue)
        else:
            issue.detail, issue.last_seen_at = finding.detail, now
    for key, issue in open_issues.items():
        if key not in findings:
            issue.resolved_at = now
            resolved.append(issue)
    rejections.forget_before(now - timedelta(days=1))
    db.session.commit()
    if opened or resolved:
        _tell_admins(opened, resolved)
    return {"opened": opened, "resolved": resolved}


def open_issues() -> list[HealthIssue]:
    """What is wrong now, the oldest first."""
    return list(db.session.scalars(sa.select(HealthIssue).where(HealthIssue.resolved_at.is_(None))
                                   .order_by(HealthIssue.opened_at, HealthIssue.id)))


def recent_issues(since: datetime) -> list[HealthIssue]:
    """Issues open now or resolved since a moment, the newest first."""
    return list(db.session.scalars(sa.select(HealthIssue).where(
        sa.or_(HealthIssue.resolved_at.is_(None), HealthIssue.resolved_at >= since))
        .order_by(HealthIssue.opened_at.desc(), HealthIssue.id.desc())))


def describe(issue: HealthIssue) -> str:
    """One line for people."""
    d = issue.detail
    text = {
        "dispatch_stalled": lambda: f"{d.get('waiting')} invitations due more than {STALL_MINUTES} minutes ago "
                                    f"have not gone out (oldest due {d.get('oldest_due_at')}): is a relay running?",
        "failure_rate": lambda: f"{issue.key}: {d.get('failed')} sends failed in the last hour "
                                f"({d.get('share', 0) * 100:.0f}%, against {d.get('share_day_before', 0) * 100:.0f}% "
                                f"the day before)",
        "credentials": lambda: f"{issue.key}: the provider refused surveyd's credentials {d.get('refused')} times in "
                               f"the last hour; check the token or password",
        "response_rate": lambda: f"survey {issue.key}: invitations were answered at {d.get('rate', 0) * 100:.0f}%, "
                                 f"half or less of the week before ({d.get('rate_week_before', 0) * 100:.0f}%)",
        "signatures": lambda: f"{issue.key}: {d.get('refused')} webhook requests refused for their signature in "
                              f"{d.get('minutes')} minutes; does SURVEYD_PUBLIC_URL match the URL it calls?",
    }.get(issue.kind, lambda: f"{issue.kind} {issue.key}")
    return text()


def _tell_admins(opened: list[HealthIssue], resolved: list[HealthIssue]) -> None:
    adapter = channels.adapters().get(Channel.EMAIL)
    admins = list(db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))))
    if adapter is None or not admins:
        return
    lines = [f"Problem: {describe(issue)}" for issue in opened] + [
        f"Resolved: {describe(issue)}" for issue in resolved]
    subject = (f"surveyd: {len(opened)} pipeline problem{'s' if len(opened) != 1 else ''}" if opened
               else "surveyd: pipeline problems resolved")
    text = "\n".join(lines) + "\n\nThe console's dashboard and GET /api/v1/health list what is open.\n"
    told = 0
    for address in admins:
        try:
            adapter.send(OutboundMessage(channel="email", to=address, subject=subject, text=text, html=None,
                                         locale="en", extra={"audience": "health"}))
            told += 1
        except Exception:
            log.exception("could not tell an admin of a pipeline problem")
    for issue in opened:
        issue.notified += told
    db.session.commit()
