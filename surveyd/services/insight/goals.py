"""Goals: "CSAT at least 90 for order.delivered by 2027-06-30", stored, with progress and a verdict.

A goal's window runs from its first day (`since`, by default the day it was made) to its deadline (`by`), both
whole local days in SURVEYD_DEFAULT_TIMEZONE (the calendar the team works by) and both counted. Its `current` score counts the survey's scored answers in the window so far (only
those at its touchpoint, when it names one): the same answers, n and 95% interval that `GET /surveys/{id}/metrics`
gives for that range. The verdict, as a CX analyst would call it:

- After the deadline the window is closed: `met` when the score over the whole window reaches the target
  (at least the target), `missed` otherwise, no answers included.
- Up to and on the deadline, never `met` (the score can still fall): `on_track` when the interval's lower bound
  already reaches the target, or when the projection does; `at_risk` otherwise.
- The projection is the window's score at the deadline if answers keep coming at their rate so far and the
  weekly score keeps moving along its trend: a least-squares line through the weekly scores (ISO weeks, each
  weighted by its n, placed at the middle of the days it covers), averaged over the days still to come. With
  answers in fewer than MIN_WEEKS weeks there is no trend and the projection is the score as it stands.
- With fewer than MIN_N answers a score says little: `enough_data` is false, and before the deadline the verdict
  is `at_risk` (nothing shows the goal is on track); after it, `met`/`missed` still follow the score.
- Figures are compared as they are shown, rounded to 2 decimals, so a verdict never contradicts its numbers.

The arithmetic (`assess`) is a pure function of weekly tallies and dates, testable without a database.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Goal, Response, Touchpoint, utcnow
from surveyd.models.base import LARGEST_ID
from surveyd.services.design.scales import scale
from surveyd.services.design.surveys import get_survey
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.insight.metric_math import summarize_counts
from surveyd.services.insight.metrics import local_period, present, scored
from surveyd.services.runtime import settings

MIN_N = 30  # below this a 95% interval on a share is wider than about +-18 points: too wide to judge by
MIN_WEEKS = 3  # a line through two weekly points is no trend
VERDICTS = ("met", "on_track", "at_risk", "missed")
MAX_ID = LARGEST_ID


def target_range(kind: str) -> tuple[float, float]:
    """The scores a goal of this survey kind can aim at: NPS -100..100, CSAT 0..100 (%), CES its answer scale."""
    if kind == "nps":
        return (-100.0, 100.0)
    if kind == "csat":
        return (0.0, 100.0)
    low, high = scale(kind)
    return (float(low), float(high))


def _zone() -> ZoneInfo:
    return ZoneInfo(settings().default_timezone)


def _today() -> date:
    return utcnow().astimezone(_zone()).date()


def create_goal(data: Mapping[str, Any], today: date | None = None) -> Goal:
    """Store a goal after checking its survey (NotFound), touchpoint, target, name and dates (Invalid)."""
    today = today or _today()
    survey = get_survey(data["survey_id"])
    errors: dict[str, list[str]] = {}
    name = (data.get("name") or "").strip()
    if not 1 <= len(name) <= 200:
        errors["name"] = ["Between 1 and 200 characters, not only spaces."]
    touchpoint = None
    if data.get("touchpoint"):
        touchpoint = db.session.scalar(sa.select(Touchpoint).where(Touchpoint.key == data["touchpoint"]))
        if touchpoint is None:
            errors["touchpoint"] = [f"No touchpoint {data['touchpoint']!r}; see GET /touchpoints."]
    low, high = target_range(survey.kind.value)
    target = float(data["target"])
    if not low <= target <= high:
        errors["target"] = [f"A {survey.kind.value.upper()} target lies between {low:g} and {high:g}."]
    due_on, starts_on = data["by"], data.get("since") or today
    if due_on < today:
        errors["by"] = [f"Must not be in the past (today is {today.isoformat()} in {settings().default_timezone})."]
    if starts_on > due_on:
        errors["since"] = ["Must not be after by."]
    if errors:
        raise Invalid("the goal cannot be set", errors)
    goal = Goal(name=name, survey=survey, touchpoint=touchpoint, target=target, starts_on=starts_on, due_on=due_on)
    db.session.add(goal)
    db.session.commit()
    return goal


def get_goal(goal_id: int) -> Goal:
    """One goal, or NotFound."""
    goal = db.session.get(Goal, goal_id) if 1 <= goal_id <= MAX_ID else None
    if goal is None:
        raise NotFound(f"goal {goal_id} does not exist")
    return goal


def list_goals() -> list[Goal]:
    """Every goal, the nearest deadline first."""
    return list(db.session.scalars(sa.select(Goal).order_by(Goal.due_on, Goal.id)))


def delete_goal(goal_id: int) -> None:
    """Forget a goal; the answers it counted stay."""
    db.session.delete(get_goal(goal_id))
    db.session.commit()


def weekly_tallies(goal: Goal, today: date) -> dict[date, Counter]:
    """The goal's counted answers as {ISO week's Monday: {score: count}}, from its first day to the last day
    counted (today, or the deadline once it has passed)."""
    last = min(today, goal.due_on)
    if last < goal.starts_on:
        return {}
    since = _midnight(goal.starts_on)
    until = _midnight(last + timedelta(days=1))
    query = scored(goal.survey, since, until, Response.score, Response.created_at)
    if goal.touchpoint_id is not None:
        query = query.where(Response.touchpoint_id == goal.touchpoint_id)
    weeks: dict[date, Counter] = defaultdict(Counter)
    zone = _zone()
    for score, created_at in db.session.execute(query):
        local_day = created_at.replace(tzinfo=created_at.tzinfo or timezone.utc).astimezone(zone).date()
        weeks[local_period(local_day, "week")][score] += 1
    return dict(weeks)


def _midnight(day: date) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time(), tzinfo=_zone()).astimezone(timezone.utc)


def goal_progress(goal: Goal, today: date | None = None) -> dict[str, Any]:
    """The goal's progress as of `today` (the local day by default): current, n, interval, verdict and what it rests on."""
    today = today or _today()
    return assess(goal.survey.kind.value, weekly_tallies(goal, today), goal.target, goal.starts_on, goal.due_on,
                  today)


def describe(goal: Goal, today: date | None = None) -> dict[str, Any]:
    """A goal as the API, the dashboard and the report show it, with its progress."""
    return {
        "id": goal.id,
        "name": goal.name,
        "survey_id": goal.survey_id,
        "kind": goal.survey.kind.value,
        "touchpoint": goal.touchpoint.key if goal.touchpoint else None,
        "target": goal.target,
        "since": goal.starts_on,
        "by": goal.due_on,
        "created_at": goal.created_at,
        "progress": goal_progress(goal, today),
    }


def goals_with_progress(today: date | None = None) -> list[dict[str, Any]]:
    """Every goal with its progress, the nearest deadline first (for the dashboard)."""
    return [describe(goal, today) for goal in list_goals()]


def report_goals(as_of: date, since: date | None = None) -> list[dict[str, Any]]:
    """The goals a report period shows, judged as of its last day: those begun by then, and (given `since`) not
    already due before it."""
    return [describe(goal, as_of) for goal in list_goals()
            if goal.starts_on <= as_of and (since is None or goal.due_on >= since)]


# The pure core: everything below depends on its arguments only.

def assess(kind: str, weekly: Mapping[date, Mapping[int, int]], target: float, starts_on: date, due_on: date,
           today: date) -> dict[str, Any]:
    """Progress and verdict from weekly tallies ({Monday: {score: count}}, already limited to the days counted:
    `starts_on` up to `today` or `due_on`, whichever comes first). See the module docstring for the rules."""
    last = min(today, due_on)
    total: Counter = Counter()
    for tally in weekly.values():
        total.update(tally)
    figure = present(summarize_counts(kind, total))
    current, n, interval = figure["score"], figure["n"], figure["interval"]
    line = trend(kind, weekly, starts_on, last)
    projected = _projection(kind, current, n, line, starts_on, due_on, last) if n and last >= starts_on else None
    enough = n >= MIN_N
    if today > due_on:
        verdict = "met" if current is not None and current >= target else "missed"
    elif enough and ((interval and interval["low"] >= target) or (projected is not None and projected >= target)):
        verdict = "on_track"
    else:
        verdict = "at_risk"
    return {
        "current": current,
        "score": current,  # the name every other figure uses, so the report's formatting reads goals too
        "n": n,
        "interval": interval,
        "verdict": verdict,
        "enough_data": enough,
        "projected": projected,
        "trend_per_week": None if line is None else round(line.slope, 2),
        "weeks": sum(1 for tally in weekly.values() if sum(tally.values())),
        "target": target,
        "as_of": today,
        "counted_until": last if last >= starts_on else None,
    }


class Trend(NamedTuple):
    """A least-squares line through weekly scores: its slope per week and the weighted centre it passes through."""

    slope: float
    centre_week: float  # weeks from the window's first day
    centre_score: float


def trend(kind: str, weekly: Mapping[date, Mapping[int, int]], starts_on: date, last: date) -> Trend | None:
    """The n-weighted least-squares line through the weekly scores, each placed at the middle of the days its week
    covers in the window; None with answers in fewer than MIN_WEEKS weeks."""
    points = []
    for monday, tally in weekly.items():
        summary = summarize_counts(kind, tally)
        if not summary.n:
            continue
        first = max(monday, starts_on)
        final = min(monday + timedelta(days=6), last)
        middle = ((first - starts_on).days + (final - starts_on).days + 1) / 2  # in days from the window's start
        points.append((middle / 7, summary.score, summary.n))
    if len(points) < MIN_WEEKS:
        return None
    weight = sum(w for _, _, w in points)
    mean_x = sum(x * w for x, _, w in points) / weight
    mean_y = sum(y * w for _, y, w in points) / weight
    spread = sum(w * (x - mean_x) ** 2 for x, _, w in points)
    if spread == 0:
        return None
    slope = sum(w * (x - mean_x) * (y - mean_y) for x, y, w in points) / spread
    return Trend(slope, mean_x, mean_y)


def _projection(kind: str, current: float, n: int, line: Trend | None, starts_on: date, due_on: date,
                last: date) -> float:
    """The window's score at the deadline: the answers so far, plus the days to come at the same daily rate, each
    scoring what the trend line gives for it (clamped to the scale)."""
    elapsed = (last - starts_on).days + 1
    remaining = (due_on - last).days
    if not remaining or line is None:
        return current
    # The line is straight, so the days to come average what it gives at their middle.
    ahead = (elapsed + remaining / 2) / 7
    low, high = target_range(kind)
    future = min(high, max(low, line.centre_score + line.slope * (ahead - line.centre_week)))
    expected = n / elapsed * remaining
    # Weekly scores of all three kinds are means over answers, so the window's score is their n-weighted mean.
    return round((line.centre_score * n + future * expected) / (n + expected), 2)
