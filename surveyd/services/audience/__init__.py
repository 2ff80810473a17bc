"""Audience: the customers surveyd asks. One contact per person across every channel, their consent
per channel (opt-outs, bounced addresses, one-click unsubscribe) and the chats linked to them.

Uses: nothing but the shared modules.
"""
