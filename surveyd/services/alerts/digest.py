"""One message for many alerts: what a chat or Slack channel gets when a burst of detractors outruns its limit."""
from __future__ import annotations

from typing import Any

from markupsafe import escape

import survey_templates
from surveyd.services.alerts.facts import AlertFacts
from surveyd.services.alerts.messages import _line, _mrkdwn, _score

SHOWN = 20  # alerts listed by name in one digest; the rest are counted


def _entry(facts: AlertFacts) -> tuple[str, str, str]:
    """(customer, score as the locale writes it, survey) for one line of the digest."""
    score, _, _ = _score(facts.locale, facts.kind, facts.score, facts.scale[1])
    return _line(facts.customer_name or facts.customer_ref), score, _line(facts.survey_name)


def _title(locale: str, count: int) -> str:
    digits = survey_templates.locale_info(locale).localize_digits
    return survey_templates.translate(locale, "alert.digest_title", count=digits(count))


def telegram_text(alerts: list[AlertFacts], locale: str) -> str:
    """The digest as a Telegram HTML message: a title, then one linked line per alert."""
    lines = [f"<b>{escape(_title(locale, len(alerts)))}</b>", ""]
    for facts in alerts[:SHOWN]:
        customer, score, survey = _entry(facts)
        lines.append(f'• <a href="{escape(facts.url)}">{escape(customer)}</a>: {escape(score)} · {escape(survey)}')
    if len(alerts) > SHOWN:
        more = survey_templates.translate(locale, "alert.more", count=len(alerts) - SHOWN)
        lines.append(escape(more))
    return "\n".join(lines)


def slack_message(alerts: list[AlertFacts], locale: str) -> dict[str, Any]:
    """The digest as a Slack incoming-webhook body: a header and one linked line per alert."""
    title = _title(locale, len(alerts))
    rows = []
    for facts in alerts[:SHOWN]:
        customer, score, survey = _entry(facts)
        rows.append(f"• <{facts.url}|{_mrkdwn(customer)}>: {_mrkdwn(score)} · {_mrkdwn(survey)}")
    if len(alerts) > SHOWN:
        rows.append(_mrkdwn(survey_templates.translate(locale, "alert.more", count=len(alerts) - SHOWN)))
    return {"text": title, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(rows)[:3000]}},
    ]}
