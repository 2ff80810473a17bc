"""Renders an alert's facts into what each target carries: email, Telegram, Slack and webhook data.

Pure functions of AlertFacts: no Flask, no database. Words come from the [alert] strings of the agent's
locale and the templates survey_templates/messages/alert_*.j2. Everything a customer or an integrator
typed is escaped for its target and cut to that target's limits.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from markupsafe import escape

import survey_templates
from surveyd.services.alerts.facts import AlertFacts, PastAnswer
from surveyd.services.design.scales import SCALES, band

ELLIPSIS = "…"
NAME_CHARS = 120  # survey, customer and touchpoint names: a long one must not push the score off a phone screen
EMAIL_COMMENT_CHARS = 2000  # Gmail clips an HTML body past ~102 KB, hiding what follows
MAX_COMMENTS = 5  # in Telegram and Slack; the email shows every comment
MAX_ATTRIBUTES, ATTRIBUTE_KEY_CHARS, ATTRIBUTE_VALUE_CHARS = 10, 50, 100
MAX_HISTORY = 5
TELEGRAM_LIMIT = 4096  # sendMessage text; counted here on the raw HTML, which is never shorter than the parsed text
SLACK_HEADER, SLACK_TEXT, SLACK_FIELD, SLACK_FIELDS = 150, 3000, 2000, 10


def _cut(text: str, limit: int) -> str:
    """The text, or its first characters and an ellipsis, in at most limit characters."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def _line(text: Any, limit: int = NAME_CHARS) -> str:
    """Text on one line, cut: a newline in a name must not reach a Subject header or break a list."""
    return _cut(" ".join(str(text).split()), limit)


def _locale(facts: AlertFacts) -> str:
    return survey_templates.resolve_locale(facts.locale, list(survey_templates.available_locales()))


def _label(locale: str, group: str, name: str) -> str:
    """The localised name of a status, channel or band; the raw name for one added after these strings."""
    try:
        return survey_templates.translate(locale, f"alert.{group}.{name}")
    except KeyError:
        return name


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _when(moment: datetime, locale: str) -> str:
    """A moment as "2026-12-02 14:05 UTC", in the locale's digits."""
    info = survey_templates.locale_info(locale)
    text = info.localize_digits(_utc(moment).strftime("%Y-%m-%d %H:%M")) + " UTC"
    # After a Persian word the bidi algorithm reads Persian digits as Arabic numbers and lays the date out
    # year-last; a left-to-right mark keeps it one left-to-right unit wherever it stands, as in a table cell.
    return "\u200e" + text if info.direction == "rtl" else text


def _iso(moment: datetime | None) -> str | None:
    """A moment in ISO 8601 UTC with "Z", as integrators parse most easily."""
    return None if moment is None else _utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def _score(locale: str, kind: str, score: int | None, high: int | str) -> tuple[str, str, str]:
    """The score on its scale ("3/10"), what it means ("Detractor") and its band, in the locale."""
    if score is None:
        return survey_templates.translate(locale, "alert.no_score"), "", ""
    digits = survey_templates.locale_info(locale).localize_digits
    text = survey_templates.translate(locale, "alert.score_of", score=digits(score), max=digits(high))
    try:
        meaning = band(kind, score)
    except ValueError:  # a kind or score off the known scales still shows its number
        return text, "", ""
    return text, _label(locale, "meaning", f"{kind}_{meaning}"), meaning


def _reason(locale: str, reason: str) -> str:
    if reason.startswith("keyword:"):
        return survey_templates.translate(locale, "alert.reason.keyword", word=_line(reason.split(":", 1)[1]))
    return _label(locale, "reason", reason)


def _attribute_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _past(locale: str, past: PastAnswer) -> dict[str, str]:
    score, meaning, _ = _score(locale, past.kind, past.score, SCALES.get(past.kind, (None, "?"))[1])
    return {"score": score, "meaning": meaning, "survey": _line(past.survey_name),
            "channel": _label(locale, "channel", past.channel), "at": _when(past.at, locale)}


def _context(facts: AlertFacts, comment_chars: int = EMAIL_COMMENT_CHARS, max_comments: int | None = None,
             brief: bool = False) -> dict[str, Any]:
    """What every alert template shows, formatted once in the agent's locale; brief leaves out details and history."""
    locale = _locale(facts)
    digits = survey_templates.locale_info(locale).localize_digits
    score, meaning, score_band = _score(locale, facts.kind, facts.score, facts.scale[1])
    comments = facts.comments[:max_comments] if max_comments else facts.comments
    attributes = [] if brief else list(facts.attributes.items())
    history = [] if brief else sorted(facts.history, key=lambda past: _utc(past.at), reverse=True)[:MAX_HISTORY]
    context = {
        "escalated": facts.event == "escalated",
        "number": survey_templates.translate(locale, "alert.number", number=f"#{facts.alert_id}"),
        "url": facts.url,
        "survey": _line(facts.survey_name),
        "has_score": facts.score is not None, "score": score, "meaning": meaning, "band": score_band,
        "customer": _line(facts.customer_name or facts.customer_ref),
        "customer_ref": _line(facts.customer_ref) if facts.customer_name else "",
        "reasons": [_reason(locale, reason) for reason in facts.reasons],
        "comments": [_cut(comment.strip(), comment_chars) for comment in comments if comment.strip()],
        "more_comments": digits(len(facts.comments) - len(comments)) if len(comments) < len(facts.comments) else "",
        "touchpoint": _line(facts.touchpoint or ""),
        "answered_on": _label(locale, "channel", facts.answered_on),
        "raised_at": _when(facts.raised_at, locale),
        "status": _label(locale, "status_name", facts.status),
        "assignee": _line(facts.assignee or ""),
        "due_at": _when(facts.due_at, locale) if facts.due_at else "",
        "attributes": [(_line(key, ATTRIBUTE_KEY_CHARS), _line(_attribute_value(value), ATTRIBUTE_VALUE_CHARS))
                       for key, value in attributes[:MAX_ATTRIBUTES]],
        "more_attributes": digits(len(attributes) - MAX_ATTRIBUTES) if len(attributes) > MAX_ATTRIBUTES else "",
        "history": [_past(locale, past) for past in history],
    }
    # The inbox preview line after the subject: what the customer said, else why the alert was raised.
    context["preheader"] = _line(context["comments"][0], 140) if context["comments"] else (
        " · ".join(context["reasons"]))
    context["headline"] = survey_templates.render_message("alert_email.subject.txt", locale, **context)
    return context


def email_parts(facts: AlertFacts) -> tuple[str, str, str]:
    """The agent's email about an alert: subject, plain-text body and HTML body."""
    context = _context(facts)
    locale = _locale(facts)
    return (context["headline"], survey_templates.render_message("alert_email.txt", locale, **context),
            survey_templates.render_message("alert_email.html", locale, **context))


def _telegram_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # Telegram counts UTF-16 code units, so an emoji is two


def telegram_text(facts: AlertFacts) -> str:
    """The Telegram message about an alert, in HTML parse mode, within Telegram's 4,096 characters."""
    # Cut the comments harder, then leave out details and history, until the message fits.
    for comment_chars, brief in ((1000, False), (300, False), (300, True), (100, True)):
        context = _context(facts, comment_chars=comment_chars, max_comments=MAX_COMMENTS, brief=brief)
        text = survey_templates.render_message("alert_telegram.txt", _locale(facts), **context)
        if _telegram_length(text) <= TELEGRAM_LIMIT:
            return text
    # Only names thousands of escaped characters long get here: the headline and the link always fit.
    opener = survey_templates.translate(_locale(facts), "alert.open")
    return f'<b>{escape(_cut(context["headline"], 500))}</b>\n\n<a href="{escape(facts.url)}">{escape(opener)}</a>'


def _mrkdwn(text: str) -> str:
    """Text made literal in Slack mrkdwn: only &, < and > are control characters there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn_within(text: str, limit: int) -> str:
    """Text escaped for mrkdwn and cut so that the escaped form, ellipsis included, fits in limit."""
    escaped = _mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    pieces, used = [], 0
    for piece in map(_mrkdwn, text):  # cutting the escaped text could split an entity
        if used + len(piece) > limit - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + ELLIPSIS


def _slack_quotes(heading: str, comments: list[str], more: str) -> str:
    """The comments as Slack quotes under a bold heading, cut harder until the section fits."""
    budget = SLACK_TEXT
    while True:
        quotes = [">" + _mrkdwn(_cut(comment, budget)).replace("\n", "\n>") for comment in comments]
        text = "\n".join([f"*{_mrkdwn(heading)}*", *quotes, *([_mrkdwn(more)] if more else [])])
        if len(text) <= SLACK_TEXT or budget == 1:
            return text
        budget = max(budget // 2, 1)


def slack_message(facts: AlertFacts) -> dict[str, Any]:
    """A Slack incoming-webhook body about an alert: plain fallback text and Block Kit blocks."""
    locale = _locale(facts)
    context = _context(facts, comment_chars=SLACK_TEXT, max_comments=MAX_COMMENTS)

    def t(key: str, **values: Any) -> str:
        return survey_templates.translate(locale, f"alert.{key}", **values)

    score = f"{context['score']} · {context['meaning']}" if context["meaning"] else context["score"]
    customer = " · ".join(part for part in (context["customer"], context["customer_ref"]) if part)
    rows = [("score", score), ("survey", context["survey"]), ("customer", customer),
            ("touchpoint", context["touchpoint"]), ("answered_on", context["answered_on"]),
            ("status", context["status"]), ("assignee", context["assignee"]), ("due_at", context["due_at"])]
    headings = {key: f"*{_mrkdwn(t(key))}*\n" for key, _ in rows}
    fields = [{"type": "mrkdwn", "text": headings[key] + _mrkdwn_within(value, SLACK_FIELD - len(headings[key]))}
              for key, value in rows if value][:SLACK_FIELDS]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(context["headline"], SLACK_HEADER)}},
        {"type": "section", "fields": fields},
    ]
    if context["comments"]:
        more = t("more", count=context["more_comments"]) if context["more_comments"] else ""
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_quotes(
            t("comments"), context["comments"], more)}})
    notes = [*context["reasons"], f"{t('raised_at')} {context['raised_at']}"]
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _mrkdwn_within(" · ".join(notes), SLACK_TEXT)}]})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": t("open")}, "url": facts.url,
         "style": "danger" if context["escalated"] else "primary"}]})
    return {"text": _mrkdwn_within(f"{context['headline']} {facts.url}", SLACK_TEXT), "blocks": blocks}


def webhook_data(facts: AlertFacts) -> dict[str, Any]:
    """The alert as JSON-safe data for integrators' webhooks, untranslated and uncut."""
    return {
        "alert_id": facts.alert_id, "url": facts.url, "event": facts.event,
        "survey_name": facts.survey_name, "kind": facts.kind, "score": facts.score, "scale": list(facts.scale),
        "reasons": list(facts.reasons), "comments": list(facts.comments),
        "customer_ref": facts.customer_ref, "customer_name": facts.customer_name,
        "answered_on": facts.answered_on, "touchpoint": facts.touchpoint,
        # Attributes arrive as JSON, but a caller may hand in dates or decimals: those become strings.
        "attributes": json.loads(json.dumps(facts.attributes, ensure_ascii=False, default=str)),
        "status": facts.status, "assignee": facts.assignee,
        "due_at": _iso(facts.due_at), "raised_at": _iso(facts.raised_at),
    }
