"""What the sandbox inbox page shows: delivered messages and the staff's view of the result."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertStatus,
    Channel,
    Contact,
    Response,
    SandboxMessage,
    Survey,
    Trigger,
)
from surveyd.services.insight import metrics
from surveyd.services.sandbox import agents

LISTED_CHANNELS = (Channel.EMAIL, Channel.WEB)  # SMS and Telegram are shown as conversations (chats.py)


def inbox(limit: int = 50) -> list[SandboxMessage]:
    """The newest deliveries to customers on the channels that are not chats (email, web); agents' are apart."""
    return list(db.session.scalars(
        sa.select(SandboxMessage).where(SandboxMessage.channel.in_(LISTED_CHANNELS), agents.audience() == "customer")
        .order_by(SandboxMessage.id.desc()).limit(limit)))


def staff_view(limit: int = 10) -> dict[str, Any]:
    """Scores per survey, the latest responses and open alerts, as staff would follow them."""
    surveys = list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))
    return {
        "scores": [(survey, metrics.survey_metrics(survey, None, None, None, None)["overall"]) for survey in surveys],
        "responses": list(db.session.scalars(sa.select(Response).order_by(Response.id.desc()).limit(limit))),
        "alerts": list(
            db.session.scalars(
                sa.select(Alert).where(Alert.status != AlertStatus.RESOLVED).order_by(Alert.id.desc()).limit(limit)
            )
        ),
    }


def event_choices() -> dict[str, list[str]]:
    """Touchpoints that have triggers and known contacts, for the 'fire an event' form."""
    touchpoints = sorted({trigger.touchpoint.key for trigger in db.session.scalars(sa.select(Trigger))})
    contacts = list(db.session.scalars(sa.select(Contact.external_id).order_by(Contact.id).limit(200)))
    contacts.sort(key=lambda external_id: external_id.startswith("demo-"))  # the named demo people first
    return {"touchpoints": touchpoints, "contacts": contacts}
