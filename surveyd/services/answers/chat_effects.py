"""What to tell Telegram once an update's effect is committed."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChatEffects:
    """Replies, the tap's answer, and edits of the tapped message; sent only after the commit."""

    replies: list[str] = field(default_factory=list)
    acknowledge: str | None = None  # the answer to a button tap ("" just stops the spinner)
    show_choice: str | None = None  # the tapped survey message's new text, without its buttons
    edit: tuple[str, list] | None = None  # the tapped alert message's new text (HTML) and buttons
