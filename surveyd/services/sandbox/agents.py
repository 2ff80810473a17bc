"""The Agents side of the sandbox inbox: what agents (and integrators' endpoints) received, and the alerts
behind it with their activity and notifications.

A sandbox row's extra["audience"] says who it was for: "agent" (an alert's email, Telegram or Slack message),
"integrator" (a webhook delivery) or, when absent, the customer.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from surveyd.extensions import db
from surveyd.models import Alert, SandboxMessage, User
from surveyd.services.access import staff_links
from surveyd.services.sandbox import agent_views

# The Telegram account the sandbox page taps alert buttons as; `serve --demo` links it to agent@demo.test.
STAFF_TELEGRAM_USER_ID = "700000001"


def audience() -> sa.ColumnElement[str]:
    """Who a sandbox row was for, as SQL: "customer" unless the sender said otherwise."""
    return sa.func.coalesce(SandboxMessage.extra["audience"].as_string(), "customer")


def messages(limit: int = 50) -> list[dict[str, Any]]:
    """What agents and integrators received, newest first, each with what its kind needs to be shown."""
    rows = db.session.scalars(sa.select(SandboxMessage).where(audience() != "customer")
                              .order_by(SandboxMessage.id.desc()).limit(limit))
    return [_shown(row) for row in rows]


def count() -> int:
    """How many sandbox rows agents and integrators received."""
    return db.session.scalar(sa.select(sa.func.count(SandboxMessage.id)).where(audience() != "customer")) or 0


def _shown(row: SandboxMessage) -> dict[str, Any]:
    kind = row.channel.value
    shown: dict[str, Any] = {"message": row, "kind": kind, "alert_id": row.extra.get("alert_id"),
                             "headers": row.extra.get("http_headers") or row.extra.get("mime_headers") or []}
    if kind == "telegram":
        shown["html"] = agent_views.telegram_view(row.text, row.extra.get("parse_mode"))
        shown["buttons"] = row.extra.get("buttons") or []
    elif kind == "slack":
        shown.update(agent_views.slack_view(row.text), pretty=agent_views.pretty_json(row.text))
    elif kind == "webhook":
        shown.update(agent_views.webhook_view(row.text), webhook_id=row.extra.get("webhook_id"))
    return shown


def alerts(limit: int = 10) -> list[Alert]:
    """The newest alerts with their activity and notifications loaded."""
    return list(db.session.scalars(
        sa.select(Alert).options(selectinload(Alert.activity), selectinload(Alert.notifications))
        .order_by(Alert.id.desc()).limit(limit)))


def staff_identity() -> User | None:
    """The staff user the sandbox's Telegram account is linked to, if any: whom a tap on the page acts as."""
    return staff_links.staff_user(STAFF_TELEGRAM_USER_ID)


def page(limit: int = 50) -> dict[str, Any]:
    """Everything the Agents view shows."""
    return {"agent_messages": messages(limit), "alerts": alerts(), "staff_identity": staff_identity(),
            "staff_telegram_id": STAFF_TELEGRAM_USER_ID}
