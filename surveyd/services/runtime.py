"""What services need from the running app: its settings and its channel adapters."""
from __future__ import annotations

from flask import current_app

from surveyd.config import Settings


def settings() -> Settings:
    """The settings of the app in context."""
    return current_app.config["SURVEYD"]


def public_url() -> str:
    """The base URL customers reach, without a trailing slash."""
    return settings().public_url or "http://localhost:8000"
