"""Publishing events: one delivery per endpoint that wants the event, written in the caller's transaction and
handed to a sender the moment that transaction commits (the relay's sweep is the safety net)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Union

import sqlalchemy as sa
from flask import current_app, has_app_context

from surveyd.extensions import db
from surveyd.models import WebhookDelivery, WebhookEndpoint, utcnow
from surveyd.services.integrations import endpoints

log = logging.getLogger(__name__)
MAX_PAYLOAD_BYTES = 20_000  # Standard Webhooks: keep payloads under about 20 kB
CUTS = (2000, 500, 100, 20)  # text values are cut to these lengths, harder each round, until the body fits
ELLIPSIS = "…"
_PENDING = "surveyd.webhook_deliveries"  # session.info key: deliveries written in the open transaction

Data = Union[dict[str, Any], Callable[[], dict[str, Any]]]


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: sorted keys, so a payload read back from JSONB signs the same every try."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def iso(moment: datetime) -> str:
    """A moment in ISO 8601 UTC with "Z"."""
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cut(value: Any, chars: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= chars else value[: chars - 1] + ELLIPSIS
    if isinstance(value, dict):
        return {key: _cut(item, chars) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, chars) for item in value]
    return value


def fitted(payload: dict[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """The payload within limit bytes: long text values cut (data.truncated says so); at worst only its scalars."""
    if len(body_bytes(payload)) <= limit:
        return payload
    for chars in CUTS:
        cut = {**payload, "data": {**_cut(payload["data"], chars), "truncated": True}}
        if len(body_bytes(cut)) <= limit:
            return cut
    scalars = {key: value for key, value in payload["data"].items() if isinstance(value, (int, float, bool))}
    return {**payload, "data": {**scalars, "truncated": True}}


def _msg_id(endpoint: WebhookEndpoint, event_type: str, key: str | None) -> str:
    """msg_ and 24 characters: random, or for a keyed event derived under the endpoint's secret, so a repeat
    publish of it names the delivery already written."""
    if key is None:
        return "msg_" + secrets.token_urlsafe(18)
    digest = hmac.new(endpoint.secret.encode(), f"{event_type}:{key}".encode(), hashlib.sha256).digest()
    return "msg_" + base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def publish(event_type: str, data: Data, survey_id: int | None, key: str | None = None) -> list[WebhookDelivery]:
    """Write this event for every enabled endpoint subscribed to it and its survey (flushes, never commits).

    data may be a function, called only when some endpoint listens; with a key, publishing the same event
    again writes nothing for the endpoints that already have it.
    """
    return _deliver(endpoints.subscribed(event_type, survey_id), event_type, data, key)


def deliver_to_urls(urls: Iterable[str], event_type: str, data: Data, key: str | None = None) -> list[WebhookDelivery]:
    """Write this event for the endpoint of each URL (a survey's webhook notify target), made on first use."""
    return _deliver(endpoints.for_urls(urls), event_type, data, key)


def _deliver(chosen: list[WebhookEndpoint], event_type: str, data: Data, key: str | None) -> list[WebhookDelivery]:
    if not chosen:
        return []
    now = utcnow()
    # Through JSON once: what is stored is what every try sends, whatever the caller handed in.
    body = json.loads(json.dumps(data() if callable(data) else data, ensure_ascii=False, default=str))
    payload = fitted({"type": event_type, "timestamp": iso(now), "data": body})
    written = []
    for endpoint in chosen:
        msg_id = _msg_id(endpoint, event_type, key)
        if key is not None and db.session.scalar(sa.select(WebhookDelivery.id).where(WebhookDelivery.msg_id == msg_id)):
            continue
        row = WebhookDelivery(endpoint_id=endpoint.id, msg_id=msg_id, event_type=event_type, payload=payload,
                              due_at=now, created_at=now)
        db.session.add(row)
        written.append(row)
    if written:
        db.session.flush()
        db.session.info.setdefault(_PENDING, []).extend(row.id for row in written)
    return written


def after_commit(session) -> None:
    """Hand the deliveries a transaction wrote to this process's sender, now that other connections see them."""
    ids = session.info.pop(_PENDING, None)
    if not ids or not has_app_context():
        return
    submit = getattr(current_app.extensions.get("surveyd.notifier"), "submit_task", None)
    if submit is None:
        return  # no sender in this process: the relay's sweep will find the rows
    from surveyd.services.integrations.delivering import TASK, run_delivery

    for delivery_id in ids:
        try:
            submit(TASK, run_delivery, delivery_id)
        except Exception:  # the broker is down: the sweep hands it out later
            log.exception("webhook delivery %s: could not hand it to a sender", delivery_id)


def after_rollback(session, *_) -> None:
    """Deliveries of a rolled-back transaction do not exist: forget them."""
    session.info.pop(_PENDING, None)
