"""Answers: what comes back on a channel. Raw provider deliveries kept once and acted on once (and
recovered when acting failed), web and chat answers turned into one response per dispatch, the chat
conversation, Telegram updates (webhook or long poll) and provider delivery reports.

Uses: access, alerts, audience, design, dispatch, insight, integrations.
"""
