"""Survey emails as MIME: stable Message-IDs, UTF-8 headers that survive the trip through bytes, text and HTML parts."""
from __future__ import annotations

import email
import email.policy
import re
from email.header import decode_header, make_header

import pytest

from bots.channel import OutboundMessage
from bots.email_message import build_email, header_list, message_id, sender_domain

SENDER = "Acme Müşteri Deneyimi <cx@acme.example>"
TURKISH = "Hizmetimizden memnun kaldınız mı? Şikâyet, öneri ve görüşleriniz için ğüşıöç İĞÜŞÖÇ anketimize katılın"
PERSIAN = "از خدمات ما راضی بودید؟ نظر شما برای ما مهم است و ما همیشه در تلاشیم"
UNSUBSCRIBE = ("<https://surveyd.test/unsubscribe/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef>, "
               "<mailto:unsubscribe@acme.example?subject=unsubscribe%2042>")


def _message(**overrides) -> OutboundMessage:
    fields = dict(channel="email", to="ayse@example.com", text="Merhaba Ayşe,\nNasıldı?\n", subject=TURKISH,
                  html="<p>Merhaba <b>Ayşe</b></p>", locale="tr", dispatch_id=42,
                  reference="https://surveyd.test/s/abc123")
    fields.update(overrides)
    return OutboundMessage(**fields)


def _round_trip(message: OutboundMessage, sender: str = SENDER):
    """The bytes that go on the wire, and what a receiver parses them into."""
    raw = build_email(message, sender, "<id@acme.example>").as_bytes()
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def _decoded(raw: bytes, name: str) -> str:
    """A header as an RFC 2047 decoder reads it (the stdlib's modern parser joins encoded words with spaces)."""
    return str(make_header(decode_header(email.message_from_bytes(raw)[name])))


def _content(part) -> str:
    """A part's decoded text with the wire's CRLFs turned back into newlines, as a mail client shows it."""
    return part.get_content().replace("\r\n", "\n")


def test_the_message_id_is_stable_for_a_dispatch_and_differs_between_dispatches():
    first = message_id(42, "https://surveyd.test/s/abc123", "acme.example")
    assert first == message_id(42, "https://surveyd.test/s/abc123", "acme.example")
    assert re.fullmatch(r"<surveyd\.42\.[0-9a-f]{16}@acme\.example>", first)
    assert message_id(43, "https://surveyd.test/s/abc123", "acme.example") != first
    assert message_id(42, "https://surveyd.test/s/other", "acme.example") != first
    assert message_id(42, None, "acme.example") == message_id(42, None, "acme.example")


def test_without_a_dispatch_the_message_id_is_fresh_each_time():
    one, two = message_id(None, "ref", "acme.example"), message_id(None, "ref", "acme.example")
    assert one != two
    assert one.startswith("<") and one.endswith("@acme.example>")


@pytest.mark.parametrize("sender, domain", [
    ("Acme CX <cx@acme.example>", "acme.example"),
    ("cx@mail.acme.example", "mail.acme.example"),
    ('"Acme, Inc." <cx@acme.example>', "acme.example"),
    ("Acme Müşteri <cx@acme.example>", "acme.example"),
    ("postmaster", "localhost"),
    ("", "localhost"),
])
def test_sender_domain(sender, domain):
    assert sender_domain(sender) == domain


@pytest.mark.parametrize("subject", [TURKISH, PERSIAN, "Short ASCII subject"], ids=["turkish", "persian", "ascii"])
def test_subjects_survive_the_trip_through_bytes(subject):
    raw, parsed = _round_trip(_message(subject=subject))
    assert parsed["Subject"] == subject
    assert _decoded(raw, "Subject") == subject
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # encoded words, no raw 8-bit bytes for a relay without SMTPUTF8


PERSIAN_TEAM = "تیم تجربه مشتری شرکت آکمه ایران برای نظرسنجی‌ها و پیشنهادها"


@pytest.mark.parametrize("name", ["Acme Müşteri Deneyimi", PERSIAN_TEAM], ids=["turkish", "persian-long"])
def test_a_non_ascii_display_name_is_encoded_and_decodes_back(name):
    raw, parsed = _round_trip(_message(), sender=f"{name} <cx@acme.example>")
    assert _decoded(raw, "From") == f"{name} <cx@acme.example>"
    assert parsed["From"].addresses[0].addr_spec == "cx@acme.example"
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()


def test_the_fixed_headers_are_there_once_each():
    raw, parsed = _round_trip(_message(to="Ayşe Yılmaz <ayse@example.com>"))
    assert parsed["To"].addresses[0].addr_spec == "ayse@example.com"
    assert _decoded(raw, "To") == "Ayşe Yılmaz <ayse@example.com>"
    assert parsed["Message-ID"] == "<id@acme.example>"
    assert parsed["Content-Language"] == "tr"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Date"].datetime is not None
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Language", "Auto-Submitted"):
        assert len(parsed.get_all(name)) == 1, name


def test_extra_headers_are_added_exactly_as_given():
    headers = {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    raw, parsed = _round_trip(_message(extra={"headers": headers}))
    assert parsed["List-Unsubscribe"] == UNSUBSCRIBE
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Receivers read the URLs from the raw header: no encoded words, only folded at a space.
    assert b"=?" not in raw.split(b"List-Unsubscribe:", 1)[1].split(b"\r\nList-Unsubscribe-Post", 1)[0]
    assert UNSUBSCRIBE.split(", ")[0].encode() in raw


def test_text_and_html_make_a_multipart_alternative_text_first():
    message = _message(text="Puanınız: 0–10 ☺\n", html="<p dir=\"rtl\">نظر شما؟ ☺</p>\n")
    _, parsed = _round_trip(message)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert _content(text) == message.text
    assert _content(html) == message.html
    assert raw_count(message) == 1 and text["MIME-Version"] is None and html["MIME-Version"] is None


def raw_count(message) -> int:
    """How many MIME-Version headers the whole message carries (RFC 2045: the top level only)."""
    raw, _ = _round_trip(message)
    return raw.count(b"MIME-Version:")


def test_without_html_the_message_is_plain_text():
    _, parsed = _round_trip(_message(html=None, text="Only text, çok güzel\n"))
    assert parsed.get_content_type() == "text/plain"
    assert not parsed.is_multipart()
    assert parsed.get_content_charset() == "utf-8"
    assert _content(parsed) == "Only text, çok güzel\n"


def test_long_lines_are_encoded_so_no_line_passes_998():
    text = "uzun " * 2000 + "\n"
    html = "<p>" + "x" * 5000 + "</p>\n"
    url = "https://surveyd.test/u/" + "a" * 1500
    raw, parsed = _round_trip(_message(text=text, html=html, subject="ş" * 300, extra={"headers": {"X-Long": url}}))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    text_part, html_part = parsed.iter_parts()
    assert _content(text_part) == text and _content(html_part) == html
    assert parsed["Subject"] == "ş" * 300
    assert parsed["X-Long"] == url


def test_header_list_gives_decoded_pairs_in_order():
    msg = build_email(_message(subject=PERSIAN, extra={"headers": {"List-Unsubscribe": UNSUBSCRIBE}}), SENDER,
                      "<id@acme.example>")
    raw = msg.as_bytes()  # the generator picks the multipart boundary, so list what was sent
    pairs = header_list(msg)
    assert [name for name, _ in pairs][:5] == ["From", "To", "Subject", "Date", "Message-ID"]
    assert ("Subject", PERSIAN) in pairs and ("From", SENDER) in pairs and ("List-Unsubscribe", UNSUBSCRIBE) in pairs
    # The same list from the raw bytes read with the old compat32 policy, encoded words and folds undone.
    reparsed = header_list(email.message_from_bytes(raw))
    assert reparsed == pairs
