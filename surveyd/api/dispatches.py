"""Dispatches with their status history."""
from __future__ import annotations

from flask_smorest import Blueprint

from surveyd.extensions import db
from surveyd.models import Dispatch
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.dispatch import DispatchSchema
from surveyd.services.errors import NotFound

blp = Blueprint("dispatches", __name__, description="Surveys on their way to one contact")


@blp.route("/dispatches/<int:dispatch_id>")
@blp.response(200, DispatchSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def dispatch_item(dispatch_id: int):
    """One dispatch with its status history."""
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None:
        raise NotFound(f"dispatch {dispatch_id} does not exist")
    return dispatch
