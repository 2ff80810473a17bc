"""Streamed file downloads for the views (the API's and the console's exports): chunks are sent as they are made,
inside the request's context, so the database session stays open until the last row."""
from __future__ import annotations

from flask import Response, stream_with_context

from surveyd.services.insight import export

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export_download(table: export.Table, kind: str, name: str) -> Response:
    """An export as an attachment named name.kind (kind: csv or xlsx)."""
    chunks = export.csv_chunks(table) if kind == "csv" else export.xlsx_chunks(table)
    return Response(stream_with_context(chunks), mimetype=MEDIA[kind], headers={
        "Content-Disposition": f'attachment; filename="{name}.{kind}"', "Cache-Control": "no-store"})
