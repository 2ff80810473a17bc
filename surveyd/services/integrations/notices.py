"""Telling the admins when surveyd stops sending to a webhook endpoint: an email to each admin staff user.

Best effort, after the commit that disabled the endpoint: the ERROR line in the log and the endpoint's
`disabled_at` and `disabled_reason` (GET /webhook-endpoints) stay the record when no mail can go out.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa

from bots.channel import OutboundMessage
from survey_templates import translate
from surveyd.extensions import db
from surveyd.models import Channel, Role, User, WebhookEndpoint
from surveyd.services.dispatch import channels

log = logging.getLogger(__name__)
LOCALE = "en"  # staff choose no language yet: the console's users will


def endpoint_disabled(endpoint_id: int, where: str, last_error: str | None) -> int:
    """Email every admin that the endpoint was disabled, and why; the number of emails sent."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    admins = list(db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN).order_by(User.id)))
    db.session.rollback()  # nothing held while talking to the mail server
    if endpoint is None or endpoint.disabled_at is None:
        return 0
    adapter = channels.adapters().get(Channel.EMAIL)
    if adapter is None or not admins:
        log.warning("webhook endpoint %s disabled: no %s to tell", endpoint_id,
                    "admin" if adapter is not None else "email channel")
        return 0
    message = _message(endpoint, where, last_error)
    sent = 0
    for email in admins:
        try:
            adapter.send(OutboundMessage(channel="email", to=email, subject=message[0], text=message[1],
                                         locale=LOCALE, extra={"audience": "admin", "endpoint_id": endpoint_id}))
            sent += 1
        except Exception:  # one admin's mailbox must not keep the others uninformed
            log.exception("could not tell %s that webhook endpoint %s was disabled", email, endpoint_id)
    db.session.commit()  # the sandbox's copies, when the email channel is sandboxed
    return sent


def _message(endpoint: WebhookEndpoint, where: str, last_error: str | None) -> tuple[str, str]:
    """(subject, plain text) of the notice."""
    if endpoint.disabled_reason == "gone":
        why = translate(LOCALE, "endpoint.disabled_gone", id=endpoint.id, where=where)
    else:
        since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC") if endpoint.failing_since else "?"
        why = translate(LOCALE, "endpoint.disabled_failing", id=endpoint.id, where=where, since=since)
    parts = [why]
    if last_error:
        parts.append(translate(LOCALE, "endpoint.last_error", error=last_error))
    parts.append(translate(LOCALE, "endpoint.what_now", id=endpoint.id))
    return translate(LOCALE, "endpoint.disabled_subject", id=endpoint.id), "\n\n".join(parts) + "\n"
