"""Report periods: a calendar month or ISO week in a time zone, and the UTC instants it spans."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from surveyd.services.errors import Invalid

CADENCES = ("month", "week")


@dataclass(frozen=True)
class Period:
    """[start, end) in local days of `zone`; a month or an ISO week (Monday to Sunday)."""

    cadence: str
    start: date
    end: date
    zone: str

    @property
    def label(self) -> str:
        """2026-10 for a month, 2026-W43 for a week."""
        if self.cadence == "month":
            return f"{self.start:%Y-%m}"
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def since(self) -> datetime:
        """The first instant, in UTC: local midnight at the start."""
        return _instant(self.start, self.zone)

    @property
    def until(self) -> datetime:
        """The instant after the last, in UTC: local midnight at the end."""
        return _instant(self.end, self.zone)

    def previous(self) -> Period:
        """The period just before, of the same cadence: last month against this one."""
        if self.cadence == "month":
            return month_period((self.start - timedelta(days=1)).replace(day=1), self.zone)
        return week_period(self.start - timedelta(days=7), self.zone)


def _instant(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def month_period(day: date, zone: str) -> Period:
    """The month holding a local day."""
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period("month", start, end, zone)


def week_period(day: date, zone: str) -> Period:
    """The ISO week (Monday first) holding a local day."""
    start = day - timedelta(days=day.weekday())
    return Period("week", start, start + timedelta(days=7), zone)


def parse_month(text: str, zone: str) -> Period:
    """A month from YYYY-MM; anything else is refused."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise Invalid("month must look like 2026-10", {"month": ["Use YYYY-MM."]})
    return month_period(date(int(match.group(1)), int(match.group(2)), 1), zone)


def current(cadence: str, now: datetime, zone: str) -> Period:
    """The month (or week) holding `now`, in the zone's calendar."""
    today = now.astimezone(ZoneInfo(zone)).date()
    return month_period(today, zone) if cadence == "month" else week_period(today, zone)


def last_complete(cadence: str, now: datetime, zone: str) -> Period:
    """The last whole month (or week) before `now`, in the zone's calendar."""
    return current(cadence, now, zone).previous()
