"""`surveyd report send`, run as operators run it: the month's report reaches each recipient through real SMTP."""
from __future__ import annotations

import pytest

from tests.fakes.smtp_server import FakeSmtp
from tests.services.insight import report_data
from tests.test_cli import _surveyd


@pytest.fixture
def smtp():
    with FakeSmtp() as fake:
        yield fake


def smtp_env(smtp, **extra) -> dict[str, str]:
    return {"SURVEYD_SMTP_HOST": smtp.host, "SURVEYD_SMTP_PORT": str(smtp.port), "SURVEYD_SMTP_STARTTLS": "0",
            "SURVEYD_MAIL_FROM": "CX <cx@shop.test>", "SURVEYD_SANDBOX": "0",
            "SURVEYD_PUBLIC_URL": "https://cx.shop.test", **extra}


def test_the_months_report_is_emailed_to_each_recipient(api, client, app, database_url, smtp):
    report_data.build(api, client, app)
    result = _surveyd(database_url, "report", "send", "--month", "2026-10", "--to", "lead@shop.test",
                      "--to", "ceo@shop.test", extra_env=smtp_env(smtp))
    assert result.returncode == 0, result.stderr
    assert "Sent the 2026-10 report to 2 of 2 recipients." in result.stdout
    mails = smtp.wait_for(2)
    assert sorted(rcpt for mail in mails for rcpt in mail.rcpt_tos) == ["ceo@shop.test", "lead@shop.test"]
    message = mails[0].message
    assert message["Subject"] == "surveyd report for October 2026"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "From 1 October 2026 to 31 October 2026 (UTC), compared with September 2026." in text
    assert "Delivery CSAT" in text and "Support NPS" in text
    assert "https://cx.shop.test/console/reports/2026-10" in text and "https://cx.shop.test/console/reports/2026-10.pdf" in html


def test_the_recipients_default_to_the_configured_list_in_its_language(api, client, app, database_url, smtp):
    report_data.build(api, client, app)
    result = _surveyd(database_url, "report", "send", "--month", "2026-10",
                      extra_env=smtp_env(smtp, SURVEYD_REPORT_TO="lead@shop.test", SURVEYD_REPORT_LOCALE="fa"))
    assert result.returncode == 0, result.stderr
    (mail,) = smtp.wait_for(1)
    assert mail.message["Subject"] == "گزارش surveyd برای اکتبر ۲۰۲۶"
    assert 'dir="rtl"' in mail.message.get_body(("html",)).get_content()


@pytest.mark.parametrize("args, env, says", [
    (["--month", "2026-13", "--to", "a@shop.test"], {}, "month must look like 2026-10"),
    (["--month", "October", "--to", "a@shop.test"], {}, "month must look like 2026-10"),
    (["--month", "2026-10"], {}, "nobody to send the report to"),
    (["--month", "2026-10", "--to", "not-an-address"], {}, "not an email address"),
    (["--month", "2026-10", "--to", "a@shop.test"], {"SURVEYD_REPORT_CADENCE": "daily"}, "SURVEYD_REPORT_CADENCE"),
    (["--month", "2026-10", "--to", "a@shop.test"], {"SURVEYD_REPORT_TO": "a@shop.test, b"}, "SURVEYD_REPORT_TO"),
])
def test_bad_input_exits_2_with_one_line_and_sends_nothing(database_url, smtp, args, env, says):
    result = _surveyd(database_url, "report", "send", *args, extra_env=smtp_env(smtp, **env))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert smtp.messages == []
