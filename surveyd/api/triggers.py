"""Triggers and touchpoints."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.schemas.common import TOUCHPOINT_KEY, ErrorEnvelopeSchema
from surveyd.schemas.trigger import (
    TouchpointListSchema,
    TouchpointPutSchema,
    TouchpointSchema,
    TriggerCreateSchema,
    TriggerListSchema,
    TriggerPatchSchema,
    TriggerSchema,
)
from surveyd.services.design import touchpoints, triggers
from surveyd.services.errors import Invalid

blp = Blueprint("triggers", __name__, description="Which touchpoint asks which survey, how and when")


@blp.route("/triggers")
class Triggers(MethodView):
    """The trigger collection."""

    @blp.response(200, TriggerListSchema)
    def get(self):
        """List triggers."""
        return {"items": triggers.list_triggers()}

    @blp.arguments(TriggerCreateSchema)
    @blp.response(201, TriggerSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def post(self, data):
        """Create a trigger; channels in order of preference."""
        return triggers.create_trigger(data)


@blp.route("/triggers/<int:trigger_id>")
class TriggerItem(MethodView):
    """One trigger."""

    @blp.response(200, TriggerSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, trigger_id: int):
        """Read a trigger."""
        return triggers.get_trigger(trigger_id)

    @blp.arguments(TriggerPatchSchema)
    @blp.response(200, TriggerSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def patch(self, data, trigger_id: int):
        """Change a trigger (any subset of its fields); `{"enabled": false}` pauses it. Events from now on follow
        the new rules; dispatches already planned keep theirs."""
        return triggers.update_trigger(trigger_id, data)


@blp.route("/touchpoints")
@blp.response(200, TouchpointListSchema)
def touchpoint_list():
    """List touchpoints with their journey stage."""
    return {"items": touchpoints.list_touchpoints()}


@blp.route("/touchpoints/<key>", methods=["PUT"])
@blp.arguments(TouchpointPutSchema)
@blp.response(200, TouchpointSchema, description="The touchpoint was known and now reads so.")
@blp.alt_response(201, schema=TouchpointSchema, description="The touchpoint was new and is made so.")
def touchpoint_put(data, key: str):
    """Name a touchpoint and set its journey stage."""
    try:
        TOUCHPOINT_KEY(key)
    except Exception:
        raise Invalid("bad touchpoint key", {"key": ["Lower-case letters, digits and . _ : -."]}) from None
    touchpoint, created = touchpoints.put_touchpoint(key, data.get("name"), data.get("stage"))
    return touchpoint, 201 if created else 200
