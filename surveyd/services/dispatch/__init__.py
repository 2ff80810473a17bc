"""Dispatch: from a planned survey to a message the provider holds. Trigger rules and planning (which
survey, when, on which channel, or why not), the outbox and its relay, rendering, rate limits, the
channel adapters this process uses, and sending with retries, fallbacks and reconciliation.

Uses: audience, design.
"""
