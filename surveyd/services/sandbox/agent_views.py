"""How the sandbox shows what agents and integrators received: Telegram's HTML mode, Slack's Block Kit and
mrkdwn, and a webhook's request, each turned into HTML that is safe to put in the page.

Pure functions of a stored message: no Flask, no database.
"""
from __future__ import annotations

import html
import json
import re
from typing import Any

from markupsafe import Markup, escape

# The tags of Telegram's HTML parse mode; anything else in a message is text, shown escaped.
TELEGRAM_TAG = re.compile(r'(</?(?:b|strong|i|em|u|s|code|pre)>|<a href="[^"<>]*">|</a>)')
SLACK_BOLD = re.compile(r"\*([^*\n]+)\*")
LINK = re.compile(r"https?://[^\s<>\"]+")


def _linked(text: str) -> str:
    """Escape text and make its links clickable, as a chat app does."""
    return LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', str(escape(text)))


def telegram_html(text: str) -> Markup:
    """A message sent in Telegram's HTML mode as the app renders it: its few tags kept, any other text escaped."""
    out = []
    for index, part in enumerate(TELEGRAM_TAG.split(text)):
        if index % 2 == 0:
            out.append(str(escape(html.unescape(part))))  # entities the sender wrote, shown as their characters
        elif part.startswith("<a "):
            href = html.unescape(part[len('<a href="'):-2])
            out.append(f'<a href="{escape(href)}">' if href.startswith(("https://", "http://")) else "<a>")
        else:
            out.append(part)
    return Markup("".join(out))


def telegram_view(text: str, parse_mode: str | None) -> Markup:
    """A Telegram message's text as shown: HTML mode rendered, plain text escaped with its links clickable."""
    return telegram_html(text) if parse_mode == "HTML" else Markup(_linked(text))


def _slack_literal(text: str) -> str:
    # Slack escapes only these three in mrkdwn (&amp; first would double-decode "&amp;lt;").
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn_html(text: str) -> Markup:
    """Slack mrkdwn as Slack shows it: *bold*, "> " quotes and line breaks; everything else is text."""
    lines = []
    for line in text.split("\n"):
        quoted = line.startswith(">")
        body = SLACK_BOLD.sub(r"<strong>\1</strong>", _linked(_slack_literal(line[1:] if quoted else line)))
        lines.append(f'<span class="quote">{body}</span>' if quoted else body)
    return Markup("<br>".join(lines))


def _text(element: dict[str, Any] | None) -> Markup:
    """A Block Kit text object: mrkdwn rendered, plain_text escaped."""
    if not element:
        return Markup("")
    if element.get("type") == "mrkdwn":
        return mrkdwn_html(str(element.get("text", "")))
    return Markup(_linked(str(element.get("text", ""))))


def _block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "header":
        return {"type": "header", "text": _text(block.get("text"))}
    if kind == "section":
        return {"type": "section", "text": _text(block.get("text")), "fields": [_text(f) for f in block.get("fields", [])]}
    if kind == "context":
        return {"type": "context", "elements": [_text(e) for e in block.get("elements", [])]}
    if kind == "actions":
        buttons = [{"text": str((e.get("text") or {}).get("text", "")), "url": e.get("url"), "style": e.get("style")}
                   for e in block.get("elements", []) if e.get("type") == "button"]
        return {"type": "actions", "buttons": buttons}
    return {"type": "other", "json": json.dumps(block, ensure_ascii=False, indent=2)}


def pretty_json(text: str) -> str:
    """A JSON body indented for reading; the text as it is when it is not JSON."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


def slack_view(body: str) -> dict[str, Any]:
    """A Slack incoming-webhook body as Slack lays it out: the fallback text and each block."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {"text": body}
    return {"fallback": Markup(_linked(str(payload.get("text", "")))),
            "blocks": [_block(block) for block in payload.get("blocks") or [] if isinstance(block, dict)]}


def webhook_view(body: str) -> dict[str, Any]:
    """What a webhook delivery carried: its event type and the body, pretty and exact."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {}
    return {"type": payload.get("type") if isinstance(payload, dict) else None, "pretty": pretty_json(body)}
