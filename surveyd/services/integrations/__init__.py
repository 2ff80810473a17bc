"""Integrations: outgoing webhooks for integrators, signed as Standard Webhooks. The endpoints integrators
register (a URL, the event types and surveys it wants, its whsec_ secret), the events other capabilities
publish inside their own transactions (alert.*, response.*, dispatch.failed, contact.opted_out), and the
outbox of deliveries: handed to a sender the moment the transaction commits, the same webhook-id and body
on every try, retried on the Standard Webhooks schedule for about 75 hours, each try logged; an endpoint
that answers 410 or has failed for 24 hours is disabled.

Uses: audience, design, dispatch.
"""
