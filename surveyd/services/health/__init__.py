"""Pipeline health: surveyd watching its own running (checks: stalled sends, failure rates, refused credentials,
falling response rates, refused webhook signatures) and counting refused webhooks (rejections).

Uses: dispatch, insight.
"""
