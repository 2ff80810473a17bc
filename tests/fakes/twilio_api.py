"""A fake Twilio Messages REST API on 127.0.0.1, standard library only, with fault injection."""
from __future__ import annotations

import base64
import re
import secrets
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.local_server import FakeHandler, LocalServer

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC[0-9a-f]{{32}})/Messages\.json$")


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _segments(body: str) -> int:
    """Rough SMS segment count: GSM-7 fits 160 (153 per part), anything else UCS-2 at 70 (67)."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)


def _parse_when(value: str) -> datetime:
    """The SDK sends YYYY-MM-DDTHH:MM:SSZ; Twilio's docs also allow a bare date."""
    fmt = "%Y-%m-%dT%H:%M:%SZ" if "T" in value else "%Y-%m-%d"
    return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's legacy error body, which the SDK turns into a TwilioRestException."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


class FakeTwilio(LocalServer):
    """Answers POST/GET .../Messages.json like Twilio does, records everything, fails on request."""

    thread_name = "fake-twilio"

    def __init__(self, account_sid: str | None = None, auth_token: str = "fake-auth-token"):
        super().__init__()
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token
        self.unsubscribed: set[str] = set()
        self._messages: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._queries: list[dict[str, Any]] = []
        self.reset_faults()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A snapshot of every stored message, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every POST attempt with its time and the status answered."""
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def queries(self) -> list[dict[str, Any]]:
        """A snapshot of every GET (list) request with its filters and the status answered."""
        with self._lock:
            return [dict(q) for q in self._queries]

    def bodies_to(self, number: str) -> list[str]:
        """The bodies of stored messages to that number, oldest first."""
        return [m["body"] for m in self.messages if m["to"] == number]

    def count_containing(self, text: str) -> int:
        """How many stored messages have text in their body."""
        return sum(text in m["body"] for m in self.messages)

    def clear(self) -> None:
        """Forget every stored message and request (faults and opt-outs stay)."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._queries.clear()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n POSTs get that status with a Twilio error body; nothing is stored."""
        with self._lock:
            self._failures.extend([(status, None)] * n)

    def throttle_next(self, n: int, retry_after: float = 2) -> None:
        """The next n POSTs get 429 (code 20429) with a Retry-After header."""
        with self._lock:
            self._failures.extend([(429, retry_after)] * n)

    def outage(self, status: int = 500) -> None:
        """Every POST fails with that status until end_outage(): the test, not the clock, decides how long."""
        with self._lock:
            self._outage = status

    def end_outage(self) -> None:
        """POSTs succeed again (injected one-off faults still apply)."""
        with self._lock:
            self._outage = None

    def refused(self, status: int) -> int:
        """How many POSTs were answered with that status so far."""
        with self._lock:
            return sum(r["status"] == status for r in self._requests)

    def reset_faults(self) -> None:
        """Answer every request normally from now on."""
        with self._lock:
            self._failures: list[tuple[int, float | None]] = []
            self._outage: int | None = None
            self._delay, self._delays_left = 0.0, None

    def _refuse(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]] | None:
        """The 401 or 404 answer for a request with the wrong credentials or account, else None."""
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, _error(401, 20003, "Authenticate")
        match = MESSAGES_PATH.match(path)
        if not match or match["sid"] != self.account_sid:
            return 404, _error(404, 20404, "The requested resource was not found")
        return None

    def _take_fault(self) -> tuple[int, float | None] | None:
        """The injected (status, retry_after) this POST must answer with, if any."""
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
            if self._outage is not None:
                return self._outage, None
        return None


    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Validate like Twilio, then store the message and answer 201 with its resource."""
        to, body = form.get("To", ""), form.get("Body")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not E164.match(to):
            return 400, _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender and not service:
            return 400, _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if not body:
            return 400, _error(400, 21602, "Message body is required.")
        if to in self.unsubscribed:
            return 400, _error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        record = {
            "sid": _sid("SM"), "to": to, "from": sender, "messaging_service_sid": service, "body": body,
            "status_callback": form.get("StatusCallback"), "date": now,
            "received_at": time.monotonic(), "received_wall": time.time(),
        }
        with self._lock:
            self._messages.append(record)
        return 201, self._resource(record)

    def _resource(self, m: dict[str, Any]) -> dict[str, Any]:
        """The JSON Twilio answers for one message (the fields MessageInstance reads)."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m['sid']}"
        stamp = format_datetime(m["date"])
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": m["body"],
            # A pool-routed message has no sender yet and is "accepted" until Twilio picks one.
            "status": "queued" if m["from"] else "accepted", "direction": "outbound-api",
            "from": m["from"], "to": m["to"], "messaging_service_sid": m["messaging_service_sid"],
            "sid": m["sid"], "num_segments": str(_segments(m["body"])), "num_media": "0",
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp,
            "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
            "uri": uri + ".json",
            "subresource_uris": {"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
        }

    def _list(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """One page of stored messages matching Twilio's list filters, in the shape Page expects."""
        try:
            after = _parse_when(query["DateSent>"]) if "DateSent>" in query else None
            before = _parse_when(query["DateSent<"]) if "DateSent<" in query else None
            on_day = _parse_when(query["DateSent"]).date() if "DateSent" in query else None
            size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
        except ValueError:
            return 400, _error(400, 20001, "Invalid query parameter")
        hits = [
            m for m in reversed(self.messages)  # Twilio lists newest first
            if query.get("To", m["to"]) == m["to"] and query.get("From", m["from"]) == m["from"]
            # Twilio's DateSent> / DateSent< are inclusive.
            and (after is None or m["date"] >= after) and (before is None or m["date"] <= before)
            and (on_day is None or m["date"].date() == on_day)
        ]
        chunk = hits[page * size:(page + 1) * size]

        def page_uri(number: int) -> str:
            return path + "?" + urlencode({**query, "Page": number, "PageSize": size})

        has_more = (page + 1) * size < len(hits)
        return 200, {
            "messages": [self._resource(m) for m in chunk],
            "first_page_uri": page_uri(0), "previous_page_uri": page_uri(page - 1) if page else None,
            "next_page_uri": page_uri(page + 1) if has_more else None, "uri": page_uri(page),
            "page": page, "page_size": size, "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
        }


class _Handler(FakeHandler):
    server_version = "FakeTwilio/1.0"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
        attempt = {"time": time.monotonic(), "wall": time.time(), "path": self.path, "to": form.get("To"),
                   "body": form.get("Body")}
        status, payload, headers, delay = self._post(form)
        attempt["status"] = status
        with self.fake._lock:
            self.fake._requests.append(attempt)
        if delay:
            time.sleep(delay)
        self.reply_json(status, payload, headers, content_type="application/json; charset=utf-8")

    def _post(self, form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str], float]:
        fake = self.fake
        refusal = fake._refuse(urlsplit(self.path).path, self.headers.get("Authorization"))
        if refusal:
            return *refusal, {}, 0
        fault = fake._take_fault()
        if fault is not None:
            status, retry_after = fault
            if status == 429:
                return 429, _error(429, 20429, "Too Many Requests"), {"Retry-After": f"{retry_after:g}"}, 0
            return status, _error(status, 20000 + status, "Injected failure"), {}, 0
        status, payload = fake._create(form)
        return status, payload, {}, fake._take_delay() if status == 201 else 0

    def do_GET(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        status, payload = fake._refuse(parts.path, self.headers.get("Authorization")) or fake._list(parts.path, query)
        with fake._lock:
            fake._queries.append({"time": time.monotonic(), "path": self.path, "query": query, "status": status})
        self.reply_json(status, payload, {}, content_type="application/json; charset=utf-8")


FakeTwilio.handler_class = _Handler  # defined below the fake it serves
