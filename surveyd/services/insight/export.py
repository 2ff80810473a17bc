"""Responses for spreadsheets: one row per response with every answer, the contact's external id, touchpoint,
channel, language, the version it saw, the sentiment of its comments and the event's attributes. Rows are read in batches and handed on as they
come, so a million responses take the memory of one batch. Read only.

Every text cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage return)
is prefixed with ' (OWASP's advice on CSV injection), in CSV and XLSX alike.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

import sqlalchemy as sa
import xlsxwriter

from surveyd.extensions import db
from surveyd.models import (
    Answer,
    Contact,
    Event,
    Response,
    Survey,
    SurveyVersion,
    Touchpoint,
)
from surveyd.services.errors import Invalid

FORMATS = ("csv", "xlsx")
BATCH = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 (and Persian as Persian) only when it starts with one
FIXED = ("response_id", "answered_at", "survey", "version", "contact_external_id", "touchpoint", "channel", "locale",
         "score", "completed", "sentiment")
# A response's sentiment is its most negative comment's: one angry sentence outweighs a polite one.
WORST_FIRST = ("negative", "neutral", "positive")


def defuse(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula, made plain text; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@dataclass(frozen=True)
class Table:
    """The export's header and its rows, produced while they are read."""

    header: list[str]
    rows: Iterator[list[Any]]


def _questions(survey: Survey) -> list[str]:
    """Every follow-up question id any version of the survey asked, in the order they first appeared."""
    seen: list[str] = []
    for version in survey.versions:
        for question in version.questions[1:]:
            if question["id"] not in seen:
                seen.append(question["id"])
    return seen


def table(survey: Survey, since: datetime | None, until: datetime | None, batch: int = BATCH) -> Table:
    """The survey's responses created in [since, until), oldest first; Invalid for an empty range."""
    if since and until and since >= until:
        raise Invalid("empty time range", {"until": ["Must be after since."]})
    questions = _questions(survey)
    header = [*FIXED, *(f"answer.{qid}" for qid in questions), "event_attributes"]
    statement = (
        sa.select(Response.id, Response.created_at, SurveyVersion.number, Contact.external_id,
                  Touchpoint.key, Response.channel, Response.locale, Response.score, Response.completed,
                  Event.attributes)
        .join(SurveyVersion, SurveyVersion.id == Response.survey_version_id)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(Event, Event.id == Response.event_id)
        .where(Response.survey_id == survey.id)
        .order_by(Response.id)
    )
    if since:
        statement = statement.where(Response.created_at >= since)
    if until:
        statement = statement.where(Response.created_at < until)

    def rows() -> Iterator[list[Any]]:
        result = db.session.execute(statement.execution_options(yield_per=batch))
        for part in result.partitions():
            answers: dict[int, dict[str, Any]] = defaultdict(dict)
            moods: dict[int, set[str]] = defaultdict(set)
            for response_id, question_id, text, number, mood in db.session.execute(
                    sa.select(Answer.response_id, Answer.question_id, Answer.value_text, Answer.value_number,
                              Answer.sentiment)
                    .where(Answer.response_id.in_([row.id for row in part]))):
                answers[response_id][question_id] = text if text is not None else number
                if mood:
                    moods[response_id].add(mood)
            for row in part:
                said = answers.get(row.id, {})
                worst = next((label for label in WORST_FIRST if label in moods.get(row.id, ())), None)
                yield [defuse(value) for value in (
                    row.id, row.created_at.isoformat(), survey.name, row.number, row.external_id, row.key,
                    row.channel.value, row.locale, row.score, row.completed, worst,
                    *(said.get(qid) for qid in questions),
                    json.dumps(row.attributes, ensure_ascii=False, sort_keys=True) if row.attributes else None)]

    return Table(header=header, rows=rows())


def csv_chunks(export: Table, rows_per_chunk: int = 500) -> Iterator[str]:
    """The export as CSV text in chunks: UTF-8 BOM, header, rows (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(export.header)
    for count, row in enumerate(export.rows, 1):
        writer.writerow(["" if value is None else value for value in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_chunks(export: Table, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """The export as an XLSX workbook, written row by row in xlsxwriter's constant-memory mode to a temporary
    file (a workbook is a zip whose directory comes last, so it can only be sent once it is whole), then read
    out in chunks; the file is removed when the last chunk is sent."""
    handle, path = tempfile.mkstemp(prefix="surveyd-export-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                              "strings_to_numbers": False, "strings_to_urls": False})
        sheet = workbook.add_worksheet("responses")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, export.header, bold)
        for number, row in enumerate(export.rows, 1):
            for column, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(number, column, value)
                elif isinstance(value, (int, float)):
                    sheet.write_number(number, column, value)
                else:
                    sheet.write_string(number, column, str(value))
        workbook.close()
        with open(path, "rb") as workbook_file:
            while chunk := workbook_file.read(chunk_bytes):
                yield chunk
    finally:
        os.unlink(path)
