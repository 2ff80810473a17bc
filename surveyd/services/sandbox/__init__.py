"""Sandbox: trying the whole loop without provider accounts. The inbox every sandboxed channel delivers
to, customers' and agents' messages apart, the customer's side of SMS and Telegram chats, the staff side of
an alert's Claim and Resolve buttons, and the demo data of `serve --demo`.

Uses: access, alerts, answers, audience, design, dispatch, insight, intake.
"""
