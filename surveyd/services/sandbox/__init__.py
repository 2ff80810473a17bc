"""Sandbox: trying the whole loop without provider accounts. The inbox every sandboxed channel delivers
to, the customer's side of SMS and Telegram chats, and the demo data of `serve --demo`.

Uses: access, answers, audience, design, dispatch, insight, intake.
"""
