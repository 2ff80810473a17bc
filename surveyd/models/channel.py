"""The channels a survey can travel on."""
import enum


class Channel(str, enum.Enum):
    """A way to reach a customer; web is a signed link handed back to the caller."""

    SMS = "sms"
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEB = "web"
