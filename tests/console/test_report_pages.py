"""The report in the console: the months, one month's report in the user's language, its PDF; refusals."""
from __future__ import annotations

import pytest

from tests.console.staff import signed_in
from tests.services.insight import report_data


@pytest.fixture
def data(api, client, app):
    return report_data.build(api, client, app)


def test_the_list_links_the_last_twelve_months(app):
    page = signed_in(app, "agent").get("/console/reports")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('href="/console/reports/20') == 12
    assert "Nobody receives the report by email" in html
    assert 'aria-current="page">Reports</a>' in html


def test_a_month_picked_in_the_form_opens_its_report(app):
    viewer = signed_in(app, "designer")
    picked = viewer.get("/console/reports?month=2026-10")
    assert picked.status_code == 302 and picked.headers["Location"].endswith("/console/reports/2026-10")


def test_a_months_report_shows_the_same_tables_as_the_email(app, data):
    html = signed_in(app, "agent").get("/console/reports/2026-10").get_data(as_text=True)
    assert "<h1>Customer experience report: October 2026</h1>" in html
    for title in ("Scores", "Response rates", "Journey stages", "Goals", "Alerts",
                  "Why: root causes of resolved alerts", "How comments were worded"):
        assert f">{title}</h2>" in html
    assert '<th scope="row" dir="auto">Delivery CSAT</th>' in html
    assert 'href="/console/reports/2026-09"' in html and 'href="/console/reports/2026-10.pdf"' in html
    assert "This month is not over" not in html


def test_the_report_speaks_the_users_language(app, data):
    html = signed_in(app, "agent").get("/console/reports/2026-10", headers={"Accept-Language": "fa"}).get_data(
        as_text=True)
    assert 'dir="rtl"' in html and "گزارش تجربهٔ مشتری: اکتبر ۲۰۲۶" in html


def test_the_pdf_downloads(app, data):
    answer = signed_in(app, "agent").get("/console/reports/2026-10.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="surveyd-report-2026-10.pdf"'
    assert answer.data.startswith(b"%PDF-")


@pytest.mark.parametrize("path", ["/console/reports/2026-13", "/console/reports/october", "/console/reports/2999-01",
                                  "/console/reports/2999-01.pdf", "/console/reports/26-10.pdf",
                                  "/console/reports/2026-10-01"])
def test_a_month_that_is_not_one_is_404(app, path):
    assert signed_in(app, "admin").get(path).status_code == 404


def test_signed_out_visitors_go_to_sign_in(client):
    answer = client.get("/console/reports/2026-10")
    assert answer.status_code == 302 and "/console/login?next=" in answer.headers["Location"]
