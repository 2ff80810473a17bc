"""Webhook endpoints: registered with a URL checked now (and again when sending), listed without secrets, removed."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from bots.outbound_http import OutboundRefused, check_url
from bots.standard_webhooks import new_secret
from surveyd.extensions import db
from surveyd.models import (
    DeliveryStatus,
    Survey,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from surveyd.services.design.survey_definitions import URL_REFUSALS
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.runtime import settings

EVENT_TYPES = ("alert.created", "alert.updated", "response.created", "response.completed", "dispatch.failed",
               "contact.opted_out")
BY_HAND = "disabled by API"  # the reason shown for an endpoint turned off with PATCH {"enabled": false}
NOTIFY_EVENTS = ["alert.created"]  # what an endpoint made for a survey's notify target carries


def _errors(url: str, events: list[str], survey_ids: list[int] | None) -> dict[str, list[str]]:
    """Each problem of a registration under its field."""
    errors: dict[str, list[str]] = {}
    try:
        check_url(url, settings().outbound_allow_private)
    except OutboundRefused as refused:
        errors["url"] = [URL_REFUSALS.get(refused.code, str(refused))]
    if not events or any(event not in EVENT_TYPES for event in events):
        errors["events"] = [f"One or more of: {', '.join(EVENT_TYPES)}."]
    if survey_ids is not None and not survey_ids:
        errors["survey_ids"] = ["Name at least one survey, or leave survey_ids out for every survey."]
    elif survey_ids:
        known = set(db.session.scalars(sa.select(Survey.id).where(Survey.id.in_(survey_ids))))
        if missing := sorted(set(survey_ids) - known):
            errors["survey_ids"] = [f"No survey has the id {', '.join(map(str, missing))}."]
    return errors


def create_endpoint(url: str, events: list[str], survey_ids: list[int] | None = None) -> WebhookEndpoint:
    """Register an endpoint with a fresh whsec_ secret; Invalid for a refused URL, unknown events or surveys."""
    url = url.strip()
    errors = _errors(url, events, survey_ids)
    if errors:
        raise Invalid("the webhook endpoint cannot be registered", errors)
    endpoint = WebhookEndpoint(url=url, events=list(dict.fromkeys(events)), secret=new_secret(), created_at=utcnow(),
                               survey_ids=sorted(set(survey_ids)) if survey_ids is not None else None)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def list_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """One endpoint, or NotFound."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


def set_enabled(endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    """Turn an endpoint back on (its run of failures forgotten; events from now on reach it) or off by hand, in
    which case what still waits for it is failed; commits."""
    endpoint = get_endpoint(endpoint_id)
    if enabled and endpoint.disabled_at is not None:
        endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    elif not enabled and endpoint.disabled_at is None:
        disable(endpoint, BY_HAND, utcnow())
    db.session.commit()
    return endpoint


def disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Take the endpoint out of service and fail what still waits for it (flushes)."""
    endpoint.disabled_at, endpoint.disabled_reason = now, reason
    db.session.execute(sa.update(WebhookDelivery)
                       .where(WebhookDelivery.endpoint_id == endpoint.id,
                              WebhookDelivery.status == DeliveryStatus.SCHEDULED)
                       .values(status=DeliveryStatus.FAILED, last_error=f"endpoint disabled: {reason}")
                       .execution_options(synchronize_session=False))


def delete_endpoint(endpoint_id: int) -> None:
    """Remove an endpoint with its deliveries; a try in flight finds its row gone and records nothing."""
    db.session.delete(get_endpoint(endpoint_id))
    db.session.commit()


def list_deliveries(endpoint_id: int, limit: int = 50, before: int | None = None) -> list[WebhookDelivery]:
    """An endpoint's deliveries newest first, each with its tries; NotFound for an unknown endpoint."""
    get_endpoint(endpoint_id)
    query = (sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
             .order_by(WebhookDelivery.id.desc()).limit(limit))
    if before:
        query = query.where(WebhookDelivery.id < before)
    return list(db.session.scalars(query))


_ENABLED = sa.select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)).order_by(WebhookEndpoint.id)  # every answer


def subscribed(event_type: str, survey_id: int | None) -> list[WebhookEndpoint]:
    """The enabled endpoints that want this event; one without a survey (an opt-out) goes to every one of them."""
    enabled = db.session.scalars(_ENABLED)
    return [endpoint for endpoint in enabled if event_type in endpoint.events
            and (survey_id is None or endpoint.survey_ids is None or survey_id in endpoint.survey_ids)]


def for_urls(urls: Iterable[str]) -> list[WebhookEndpoint]:
    """The endpoint each notify-target URL is signed for, made on first use (flushes); a disabled one is skipped.

    The newest endpoint with the URL wins, so an integrator who registers the URL after the fact (and so learns
    its secret) takes over from the one made here. A made one lists no surveys: it hears only what its
    target's `when` filter lets through, never every alert by subscription.
    """
    chosen = []
    for url in dict.fromkeys(urls):
        endpoint = db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.url == url)
                                     .order_by(WebhookEndpoint.id.desc()).limit(1))
        if endpoint is None:
            endpoint = WebhookEndpoint(url=url, events=list(NOTIFY_EVENTS), survey_ids=[], secret=new_secret(),
                                       created_at=utcnow())
            db.session.add(endpoint)
            db.session.flush()
        if endpoint.disabled_at is None:
            chosen.append(endpoint)
    return chosen
