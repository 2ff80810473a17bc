"""The report as a PDF, drawn from the same tables as its email and console page. fpdf2 with HarfBuzz shaping
and a bundled DejaVu Sans, which covers Latin with Turkish letters and the Persian alphabet, so Persian comes out
joined and right to left without any system font."""
from __future__ import annotations

import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode

from surveyd.services.insight.report_view import ReportView

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
LRM = "\u200e"


def _own_direction(text: str) -> str:
    """A cell in a right-to-left page keeps its own direction: a Latin name or "+25.0" starts with a left-to-right
    mark, or the page's direction would turn "+25.0" into "25.0+" (what dir="auto" does in the HTML)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return text
        if kind == "L":
            break
    return LRM + text


def render(view: ReportView) -> bytes:
    """The report as PDF bytes, A4 portrait; tables read from the right in a right-to-left locale."""
    rtl = view.direction == "rtl"
    align = "R" if rtl else "L"
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(view.title)
    pdf.set_lang(view.locale)
    pdf.set_creator("surveyd")
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_text_shaping(use_shaping_engine=True, direction="rtl" if rtl else "ltr")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 16)
    pdf.multi_cell(0, 8, view.title, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(87, 96, 106)
    pdf.multi_cell(0, 5, view.summary, align=align, new_x="LMARGIN", new_y="NEXT")
    for table in view.tables:
        pdf.ln(4)
        pdf.set_text_color(31, 35, 40)
        pdf.set_font(FAMILY, "B", 12)
        pdf.multi_cell(0, 7, table.title, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        if table.rows:
            order = (lambda cells: list(reversed(cells))) if rtl else list
            with pdf.table(text_align=align, cell_fill_color=(244, 245, 247),
                           cell_fill_mode=TableCellFillMode.ROWS, line_height=5, padding=1.5,
                           first_row_as_headings=True) as grid:
                heading = grid.row()
                for column in order(table.columns):
                    heading.cell(column)
                for cells in table.rows:
                    row = grid.row()
                    for value in order(cells):
                        row.cell(_own_direction(value) if rtl else value)
        if table.note:
            pdf.set_text_color(87, 96, 106)
            pdf.set_font(FAMILY, "", 8)
            pdf.multi_cell(0, 4, table.note, align=align, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(87, 96, 106)
    pdf.multi_cell(0, 4, view.footer, align=align, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
