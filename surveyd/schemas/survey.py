"""Survey request and response bodies."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from surveyd.schemas.common import StrictBoolean, Timestamp, mask_url
from surveyd.services.design.survey_definitions import scale_of
from surveyd.services.dispatch.messages import sms_segments

KINDS = ["nps", "csat", "ces"]
Texts = lambda **kw: fields.Dict(keys=fields.String(), values=fields.String(), **kw)  # noqa: E731


class OptionSchema(Schema):
    """One choice of a choice question."""

    id = fields.String(required=True)
    label = Texts(required=True)


class QuestionSchema(Schema):
    """The scale question or a follow-up shown for some score bands."""

    id = fields.String(required=True, validate=validate.Length(1, 64))
    type = fields.String(required=True, validate=validate.OneOf(["scale", "text", "choice"]))
    text = Texts(required=True)
    low_label = Texts()
    high_label = Texts()
    bands = fields.List(fields.String(validate=validate.OneOf(["negative", "neutral", "positive"])))
    options = fields.List(fields.Nested(OptionSchema))


class WhenSchema(Schema):
    """Which alerts a target hears of: every condition given must hold."""

    score_max = fields.Integer(strict=True)
    score_min = fields.Integer(strict=True)
    keywords = fields.List(fields.String(validate=validate.Length(1, 100)), validate=validate.Length(max=50))
    touchpoints = fields.List(fields.String(validate=validate.Length(1, 100)), validate=validate.Length(max=50))
    channels = fields.List(fields.String(validate=validate.OneOf(["sms", "email", "telegram", "web"])))
    locales = fields.List(fields.String(validate=validate.Length(2, 16)), validate=validate.Length(max=20))
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 100)), metadata={
        "description": "Contact or event attribute -> value, or a list of values; the event's attribute wins."})


class NotifySchema(Schema):
    """Where an alert of this survey goes; an optional `when` narrows which alerts."""

    channel = fields.String(required=True, validate=validate.OneOf(["email", "telegram", "slack", "webhook"]))
    to = fields.Email()
    chat_id = fields.String(validate=validate.Regexp(r"^-?\d{1,20}$"))
    url = fields.Url(schemes={"https", "http"}, require_tld=False, validate=validate.Length(max=2000))
    locale = fields.String(validate=validate.Length(2, 16), metadata={
        "description": "The language the agents read the notification in (default en)."})
    when = fields.Nested(WhenSchema)

    @validates_schema
    def _target(self, data, **_):
        needed = {"email": "to", "telegram": "chat_id", "slack": "url", "webhook": "url"}[data["channel"]]
        if not data.get(needed):
            raise ValidationError(f"Required for {data['channel']}.", needed)


class AlertRuleSchema(Schema):
    """When an answer raises an alert (score at or below threshold, a keyword, negative wording), who hears, and the SLA."""

    threshold = fields.Integer(strict=True)  # 5.5 is refused, not read as 5
    keywords = fields.List(fields.String(validate=validate.Length(1, 100)), validate=validate.Length(max=100))
    sentiment = StrictBoolean(metadata={
        "description": "Also raise an alert when a comment is negatively worded, whatever the score (reason sentiment)."})
    notify = fields.List(fields.Nested(NotifySchema), validate=validate.Length(max=20))
    sla_minutes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 525600), metadata={
        "description": "An alert not resolved this long after it was raised is escalated once."})
    escalate = fields.List(fields.Nested(NotifySchema), validate=validate.Length(max=20))


class EmailTextsSchema(Schema):
    """The survey's own email wording per locale; {name} and the event's attributes, e.g. {order_id}, fill in."""

    subject = Texts(metadata={"description": "Subject per locale, e.g. {\"en\": \"How was order {order_id}?\"}."})
    intro = Texts(metadata={"description": "The sentence before the question, per locale."})


class SurveyCreateSchema(Schema):
    """POST /surveys."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    template = fields.String(validate=validate.Length(1, 40))
    locales = fields.List(fields.String(), validate=validate.Length(min=1))
    questions = fields.List(fields.Nested(QuestionSchema), validate=validate.Length(1, 30))
    alert = fields.Nested(AlertRuleSchema)
    email = fields.Nested(EmailTextsSchema, allow_none=True, metadata={
        "description": "Email wording of this survey; a text whose placeholders an event cannot fill falls back "
                       "to the built-in wording."})


class SurveyPatchSchema(SurveyCreateSchema):
    """PATCH /surveys/{id}: any subset; content changes make a new version."""

    name = fields.String(validate=validate.Length(1, 200))
    kind = fields.String(validate=validate.OneOf(KINDS))


class ScaleSchema(Schema):
    """The survey's scale; higher is always better."""

    min = fields.Integer()
    max = fields.Integer()
    direction = fields.String()


class SurveySchema(Schema):
    """A survey with its current version's content."""

    id = fields.Integer()
    name = fields.String()
    kind = fields.Function(lambda s: s.kind.value)
    template = fields.String(allow_none=True)
    version = fields.Integer(attribute="current_version")
    locales = fields.Function(lambda s: s.latest.locales)
    scale = fields.Function(lambda s: scale_of(s.kind.value))
    questions = fields.Function(lambda s: s.latest.questions)
    alert = fields.Function(lambda s: shown_alert_rule(s.latest.alert))
    email = fields.Function(lambda s: s.latest.email or {})
    sms_segments = fields.Function(
        lambda s: sms_segments(s.kind, s.latest),
        metadata={"description": "Per locale, what the SMS invitation and reminder cost: GSM-7 or UCS-2, "
                                 "length in that encoding's units, and segments (each billed by Twilio)."},
    )
    created_at = Timestamp()
    updated_at = Timestamp()


def shown_alert_rule(rule: dict) -> dict:
    """The alert rule as it may be read back: a Slack URL is the credential, so only its host shows; a webhook
    URL shows without its query string, where tokens tend to travel (its deliveries are signed instead)."""
    def shown(target: dict) -> dict:
        if target.get("channel") == "slack":
            return {**target, "url": mask_url(target["url"])}
        if target.get("url") and ("?" in target["url"] or "#" in target["url"]):
            return {**target, "url": target["url"].split("?")[0].split("#")[0] + "?…"}
        return target

    return {**rule, "notify": [shown(t) for t in rule.get("notify") or []],
            "escalate": [shown(t) for t in rule.get("escalate") or []]}


class SurveyListSchema(Schema):
    """GET /surveys."""

    items = fields.List(fields.Nested(SurveySchema))
