"""Alerts: a negative answer raised as an alert in the same transaction as its response, and agents
working it (claim, contact, resolve).

Uses: nothing but the shared modules.
"""
