"""Touchpoint events: the entry of the loop."""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint

from surveyd.models import Channel, Dispatch, DispatchStatus, Event
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.event import EventAcceptedSchema, EventCreateSchema
from surveyd.services.dispatch.planning import survey_link
from surveyd.services.errors import Invalid
from surveyd.services.intake import events

blp = Blueprint("events", __name__, description="Touchpoint events that may trigger surveys")
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Schema instances made once: given a class, webargs builds a schema (and deep-copies its fields) on every request.
EVENT_CREATE = EventCreateSchema()
EVENT_ACCEPTED = EventAcceptedSchema()


def present(event: Event, dispatches: list[Dispatch]) -> str:
    """The 202 body, stored with the event so a replay answers byte for byte."""
    planned = []
    for dispatch in dispatches:
        item = {"id": dispatch.id, "survey_id": dispatch.survey_id, "channel": dispatch.channel.value,
                "status": dispatch.status.value, "scheduled_at": dispatch.due_at}
        if dispatch.channel == Channel.WEB and dispatch.status == DispatchStatus.SENT:
            item["url"] = survey_link(dispatch)
        if dispatch.reason:
            item["reason"] = dispatch.reason
        planned.append(item)
    return EVENT_ACCEPTED.dumps({"id": event.id, "dispatches": planned})


@blp.route("/events", methods=["POST"])
@blp.arguments(EVENT_CREATE)
@blp.response(202, EventAcceptedSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
@blp.doc(parameters=[{"in": "header", "name": IDEMPOTENCY_HEADER, "required": False, "schema": {"type": "string"},
                      "description": "Retries with the same key count once; the same key with another body is 422."}])
def create_event(data):
    """Report a touchpoint; matching triggers plan their dispatches."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip() or None
    if key is not None and len(key) > 255:
        raise Invalid("Idempotency-Key too long", {IDEMPOTENCY_HEADER: ["At most 255 characters."]})
    intake = events.record_event(data, events.request_hash(request.get_json()), key, present)
    response = Response(intake.body, status=202, mimetype="application/json")
    if intake.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
