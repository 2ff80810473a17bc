"""Goals: a score to reach by a day, with progress and a verdict."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.goal import GoalCreateSchema, GoalListSchema, GoalSchema
from surveyd.services.insight import goals

blp = Blueprint("goals", __name__, description="SMART goals: a score to reach by a day")


@blp.route("/goals")
class Goals(MethodView):
    """The goal collection."""

    @blp.response(200, GoalListSchema)
    def get(self):
        """List goals with their progress, the nearest deadline first."""
        return {"items": goals.goals_with_progress()}

    @blp.arguments(GoalCreateSchema)
    @blp.response(201, GoalSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    @blp.alt_response(422, schema=ErrorEnvelopeSchema)
    def post(self, data):
        """Set a goal on a survey's score, optionally at one touchpoint."""
        return goals.describe(goals.create_goal(data))


@blp.route("/goals/<int:goal_id>")
class GoalItem(MethodView):
    """One goal."""

    @blp.response(200, GoalSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, goal_id: int):
        """Read a goal with its progress."""
        return goals.describe(goals.get_goal(goal_id))

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def delete(self, goal_id: int):
        """Delete a goal; the answers it counted stay."""
        goals.delete_goal(goal_id)
