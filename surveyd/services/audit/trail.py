"""Writing the audit log. While a request acts for an API key or a staff user (`acting`), every change it flushes
to an audited table (surveys, triggers, touchpoints, alerts, users, keys, webhook endpoints, goals, themes) gets an
entry in the same transaction: it cannot be lost while the change stands, nor stand without it. Reads that must be
on record too (a person's data exported, erased) call `record`.

The entry names the row by id and the fields that changed, never their values, so the log itself holds no
personal data or secret (a password hash, a webhook secret) and survives erasure unchanged. Changes made by the
relay or the customer's own answers have no actor and are not audited here: they are the system at work, kept
in their own histories (dispatch status changes, alert activity)."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import AuditEntry, utcnow

# Table name -> the noun of the action ("trigger.changed"). By name, so a model added later joins with one line.
AUDITED = {
    "surveys": "survey", "triggers": "trigger", "touchpoints": "touchpoint", "alerts": "alert", "users": "user",
    "api_keys": "api_key", "webhook_endpoints": "webhook_endpoint", "goals": "goal", "themes": "theme",
    "comment_themes": "comment_theme",
}
# Bookkeeping a change carries along, not a change of its own.
IGNORED_FIELDS = {"updated_at", "created_at", "version", "current_version_id"}
_PENDING = "surveyd.audit"


@dataclass(frozen=True)
class Actor:
    """Who is acting: "api_key:<id>:<name>" or "user:<id>:<email>", from which address, in which request."""

    name: str
    origin: str | None = None
    request_id: str | None = None


_actor: ContextVar[Actor | None] = ContextVar("surveyd_audit_actor", default=None)


def begin(actor: Actor) -> Token:
    """Act as `actor` until `end` with the token returned."""
    return _actor.set(actor)


def end(token: Token) -> None:
    _actor.reset(token)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Everything flushed inside the block is audited as `actor`'s."""
    token = begin(actor)
    try:
        yield
    finally:
        end(token)


def current() -> Actor | None:
    """Who the running request acts for, if anyone."""
    return _actor.get()


def record(action: str, target_type: str, target_id: Any = None, detail: dict[str, Any] | None = None) -> None:
    """Add an entry in the caller's transaction for an act that changes no audited row (an export, an erasure);
    with no actor the act is the system's, and says so."""
    actor = current()
    db.session.add(AuditEntry(
        at=utcnow(), actor=actor.name if actor else "system", action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id), detail=detail or {},
        origin=actor.origin if actor else None, request_id=actor.request_id if actor else None))


def _changed_fields(instance) -> list[str]:
    state = sa.inspect(instance)
    names = []
    for attribute in state.mapper.column_attrs:
        if attribute.key in IGNORED_FIELDS:
            continue
        if state.attrs[attribute.key].history.has_changes():
            names.append(attribute.key)
    return sorted(names)


def before_flush(session, _context, _instances) -> None:
    """Note every audited row the flush creates, changes or deletes, while an actor acts."""
    if current() is None:
        return
    pending = session.info.setdefault(_PENDING, [])
    for kind, instances in (("created", session.new), ("changed", session.dirty), ("deleted", session.deleted)):
        for instance in instances:
            noun = AUDITED.get(getattr(instance, "__tablename__", ""))
            if noun is None:
                continue
            fields = None
            if kind == "changed":
                fields = _changed_fields(instance)
                if not fields:
                    continue
            pending.append((instance, f"{noun}.{kind}", noun, fields))


def after_flush(session, _context) -> None:
    """Write the entries noted before the flush, now that new rows have ids, on the flush's own connection."""
    pending = session.info.pop(_PENDING, None)
    actor = current()
    if not pending or actor is None:
        return
    now = utcnow()
    rows = []
    for instance, action, noun, fields in pending:
        state = sa.inspect(instance)
        identity = state.identity or state.mapper.primary_key_from_instance(instance)
        if not identity or any(part is None for part in identity):
            identity = None
        rows.append({"at": now, "actor": actor.name, "action": action, "target_type": noun,
                     "target_id": "-".join(str(part) for part in identity) if identity else None,
                     "detail": {"fields": fields} if fields else {}, "origin": actor.origin,
                     "request_id": actor.request_id})
    session.connection().execute(sa.insert(AuditEntry.__table__), rows)


def after_rollback(session, *_) -> None:
    session.info.pop(_PENDING, None)


def listen() -> None:
    """Hang the trail on the session class, once per process."""
    for name, hook in (("before_flush", before_flush), ("after_flush", after_flush),
                       ("after_soft_rollback", after_rollback)):
        if not sa.event.contains(db.session, name, hook):
            sa.event.listen(db.session, name, hook)
