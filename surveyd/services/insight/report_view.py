"""The report in words: every figure formatted once, in one locale, as headed tables. The email (HTML and text),
the console page and the PDF all draw these same tables, so they cannot say different things."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import survey_templates
from surveyd.services.insight.report import SENTIMENTS, Report, SurveyFigure, as_of

KINDS = ("nps", "csat", "ces")
KIND_NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}  # the metrics' own names, the same in every language


@dataclass(frozen=True)
class Table:
    """A titled table of text cells; `note` says what an empty table means or how to read it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class ReportView:
    """The report as a person reads it."""

    locale: str
    direction: str
    title: str
    subject: str
    summary: str
    tables: list[Table]
    footer: str


def present(report: Report, locale: str) -> ReportView:
    """The report's words and figures in a locale (falling back to English for a locale it does not know)."""
    locale = survey_templates.resolve_locale(locale, list(survey_templates.available_locales()))
    words = _Words(locale)
    period, previous = words.period(report.period), words.period(report.previous)
    last_day = as_of(report.period)
    summary = words.t("report.summary", start=words.day(report.period.start), end=words.day(last_day),
                      previous=previous, zone=report.period.zone)
    tables = [_scores(report, words), _rates(report, words), _journey(report, words), _goals(report, words),
              _alerts(report, words), _causes(report, words), _sentiment(report, words), _themes(report, words)]
    return ReportView(
        locale=locale, direction=survey_templates.locale_info(locale).direction,
        title=words.t("report.title", period=period), subject=words.t("report.subject", period=period),
        summary=summary, tables=tables, footer=words.t("report.footer"),
    )


class _Words:
    """Formatting in one locale: digits, scores, changes, dates."""

    def __init__(self, locale: str):
        self.locale = locale
        info = survey_templates.locale_info(locale)
        # Persian writes its own decimal and thousands separators and percent sign beside its own digits.
        marks = str.maketrans({".": "٫", ",": "٬", "%": "٪"}) if info.digits != "0123456789" else None
        self.digits = lambda value: info.localize_digits(value).translate(marks) if marks else info.localize_digits(value)

    def t(self, key: str, **values: Any) -> str:
        return survey_templates.translate(self.locale, key, **values)

    def number(self, value: float | int | None, places: int = 0) -> str:
        if value is None:
            return "–"
        return self.digits(f"{value:,.{places}f}" if places else f"{round(value):,}")

    def score(self, kind: str, figure: dict[str, Any] | None) -> str:
        if not figure or figure.get("score") is None:
            return "–"
        value = figure["score"]
        if kind == "nps":
            return self.digits(f"{value:+.0f}" if value else "0")
        if kind == "csat":
            return self.digits(f"{value:.1f}%")
        return self.digits(f"{value:.2f}")

    def interval(self, figure: dict[str, Any]) -> str:
        interval = figure.get("interval")
        if not interval:
            return "–"
        return self.digits(f"{interval['low']:.1f} – {interval['high']:.1f}")

    def change(self, kind: str, figure: SurveyFigure) -> str:
        if figure.change is None:
            return self.t("report.not_comparable")
        places = 2 if kind == "ces" else 1
        text = self.digits(f"{figure.change:+.{places}f}")
        return self.t("report.clear_change", change=text) if figure.clear_change else text

    def percent(self, share: float | None) -> str:
        return "–" if share is None else self.digits(f"{share * 100:.1f}%")

    def day(self, day: date) -> str:
        months = self.t_list("report.months")
        return self.digits(f"{day.day} {months[day.month - 1]} {day.year}")

    def period(self, period) -> str:
        if period.cadence == "month":
            months = self.t_list("report.months")
            return self.digits(f"{months[period.start.month - 1]} {period.start.year}")
        return self.t("report.week_of", day=self.day(period.start))

    def t_list(self, key: str) -> list[str]:
        return self.t(key).split("|")

    def duration(self, minutes: float | None) -> str:
        if minutes is None:
            return "–"
        if minutes < 120:
            return self.t("report.minutes", count=self.number(minutes))
        if minutes < 48 * 60:
            return self.t("report.hours", count=self.number(minutes / 60, 1))
        return self.t("report.days", count=self.number(minutes / 1440, 1))


def _scores(report: Report, words: _Words) -> Table:
    rows = [[figure.name, KIND_NAMES[figure.kind], words.score(figure.kind, figure.current),
             words.interval(figure.current), words.number(figure.current["n"]),
             words.score(figure.kind, figure.previous), words.change(figure.kind, figure)]
            for figure in report.surveys]
    columns = [words.t(f"report.col.{name}") for name in
               ("survey", "kind", "score", "interval", "n", "previous", "change")]
    return Table(words.t("report.scores_title"), columns, rows,
                 words.t("report.scores_note") if rows else words.t("report.empty"))


def _rates(report: Report, words: _Words) -> Table:
    rows = [[figure.name, words.number(figure.sent), words.number(figure.answered), words.percent(figure.rate),
             words.percent(figure.previous_answered / figure.previous_sent if figure.previous_sent else None)]
            for figure in report.surveys if figure.sent or figure.previous_sent]
    columns = [words.t(f"report.col.{name}") for name in ("survey", "sent", "answered", "rate", "previous_rate")]
    return Table(words.t("report.rates_title"), columns, rows, "" if rows else words.t("report.empty"))


def _journey(report: Report, words: _Words) -> Table:
    rows = []
    for stage in report.journey:
        cells = [words.t(f"report.stage.{stage['stage']}")]
        for kind in KINDS:
            figure = stage.get(kind)
            cells.append(f"{words.score(kind, figure)} ({words.t('report.n', n=words.number(figure['n']))})"
                         if figure else "–")
        rows.append(cells)
    columns = [words.t("report.col.stage"), *(KIND_NAMES[kind] for kind in KINDS)]
    return Table(words.t("report.journey_title"), columns, rows, words.t("report.journey_note"))


def _goals(report: Report, words: _Words) -> Table:
    rows = []
    for goal in report.goals:
        progress = goal["progress"]
        kind = goal.get("kind", "csat")
        rows.append([goal["name"], words.score(kind, progress), words.score(kind, {"score": goal["target"]}),
                     words.day(date.fromisoformat(str(goal["by"]))),
                     words.t(f"report.verdict.{progress['verdict']}")])
    columns = [words.t(f"report.col.{name}") for name in ("goal", "current", "target", "by", "verdict")]
    return Table(words.t("report.goals_title"), columns, rows, "" if rows else words.t("report.no_goals"))


def _alerts(report: Report, words: _Words) -> Table:
    alerts = report.alerts
    rows = [
        [words.t("report.alerts.raised"), words.number(alerts.raised), words.number(alerts.previous_raised)],
        [words.t("report.alerts.resolved"), words.number(alerts.resolved), words.number(alerts.previous_resolved)],
        [words.t("report.alerts.median"), words.duration(alerts.median_minutes_to_resolve), "–"],
        [words.t("report.alerts.in_time"),
         words.percent(alerts.resolved_in_time / alerts.resolved if alerts.resolved else None), "–"],
        [words.t("report.alerts.open_at_end"), words.number(alerts.open_at_end), "–"],
    ]
    columns = [words.t("report.col.figure"), words.t("report.col.this_period"), words.t("report.col.previous")]
    return Table(words.t("report.alerts_title"), columns, rows)


def _causes(report: Report, words: _Words) -> Table:
    rows = [[cause["root_cause"].replace("_", " "), words.number(cause["count"]), words.percent(cause["share"]),
             cause["touchpoint"]] for cause in report.root_causes]
    columns = [words.t(f"report.col.{name}") for name in ("cause", "count", "share", "where")]
    return Table(words.t("report.causes_title"), columns, rows, "" if rows else words.t("report.empty"))


def _sentiment(report: Report, words: _Words) -> Table:
    total = sum(report.sentiment.values())
    rows = [[words.t(f"report.sentiment.{label}"), words.number(report.sentiment[label]),
             words.percent(report.sentiment[label] / total if total else None)] for label in SENTIMENTS]
    columns = [words.t(f"report.col.{name}") for name in ("wording", "count", "share")]
    return Table(words.t("report.sentiment_title"), columns, rows, words.t("report.sentiment_note"))


EXAMPLE_CHARS = 140


def _themes(report: Report, words: _Words) -> Table:
    rows = []
    for theme in report.themes:
        example = theme["examples"][0]["text"] if theme["examples"] else ""
        if len(example) > EXAMPLE_CHARS:
            example = example[:EXAMPLE_CHARS - 1].rstrip() + "…"
        negative = theme["sentiment"]["negative"] / theme["comments"] if theme["comments"] else None
        rows.append([theme["name"], words.number(theme["comments"]), words.percent(theme["share"]),
                     words.percent(negative), example])
    columns = [words.t(f"report.col.{name}") for name in ("theme", "count", "share", "negative", "example")]
    if rows:
        note = words.t("report.themes_note")
    else:
        note = words.t("report.themes_weekly" if report.period.cadence != "month" else "report.no_themes")
    return Table(words.t("report.themes_title"), columns, rows, note)
