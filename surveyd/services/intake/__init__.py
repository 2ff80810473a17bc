"""Intake: touchpoint events from integrators, recorded once per idempotency key, with the contact they
name and the dispatches the planner makes for them, in one transaction.

Uses: audience, design, dispatch.
"""
