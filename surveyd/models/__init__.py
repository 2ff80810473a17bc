"""The models, one module per noun; imported here so metadata knows every table."""
from surveyd.models.alert import (
    Alert,
    AlertActivity,
    AlertStatus,
    Notification,
    NotificationAttempt,
    NotificationStatus,
)
from surveyd.models.api_key import ApiKey
from surveyd.models.audit import AuditEntry
from surveyd.models.base import Base, utcnow
from surveyd.models.channel import Channel
from surveyd.models.chat_link import ChatLink
from surveyd.models.config_generation import CACHED_TABLES, ConfigGeneration
from surveyd.models.contact import (
    Consent,
    ConsentChange,
    ConsentState,
    Contact,
    Suppression,
)
from surveyd.models.dispatch import (
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
)
from surveyd.models.event import Event
from surveyd.models.goal import Goal, ReportRun
from surveyd.models.health import HealthIssue, WebhookRejection
from surveyd.models.inbound import Conversation, InboundMessage
from surveyd.models.response import PENDING_SENTIMENT, Answer, Response
from surveyd.models.rollup import FunnelRollup, RollupMark, RollupState, ScoreRollup
from surveyd.models.sandbox_message import SandboxMessage
from surveyd.models.staff_link import StaffLink
from surveyd.models.survey import Survey, SurveyKind, SurveyVersion
from surveyd.models.theme import CommentTheme, Theme
from surveyd.models.touchpoint import Stage, Touchpoint
from surveyd.models.trigger import Trigger
from surveyd.models.user import Role, SignInAttempt, User
from surveyd.models.webhook_endpoint import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "CACHED_TABLES",
    "ConfigGeneration",
    "PENDING_SENTIMENT", "Alert", "AlertActivity", "AlertStatus", "Notification", "NotificationAttempt", "NotificationStatus", "Answer", "ApiKey", "AuditEntry", "Base", "Channel", "ChatLink", "CommentTheme", "Consent", "ConsentChange", "ConsentState", "Contact",
    "Conversation", "Dispatch", "DispatchPurpose", "DispatchStatus", "DispatchStatusChange", "Event", "Goal", "HealthIssue", "InboundMessage", "ReportRun", "Response", "Role", "FunnelRollup", "RollupMark", "RollupState", "ScoreRollup", "SignInAttempt",
    "SandboxMessage", "StaffLink", "Stage", "Suppression", "Survey", "SurveyKind", "SurveyVersion", "Theme", "Touchpoint", "Trigger", "User", "DeliveryStatus", "WebhookAttempt", "WebhookRejection", "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
