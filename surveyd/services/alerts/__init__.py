"""Alerts: a negative answer raised as an alert in the same transaction as its response, the notification
outbox that tells agents on their targets (email, Telegram, Slack; webhook targets through integrations), escalation past the SLA, and agents
working the alert (claim, contact, resolve), each step kept in its activity log.

Uses: design, dispatch, integrations.
"""
