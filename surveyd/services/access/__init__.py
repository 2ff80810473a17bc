"""Access: who may call surveyd. API keys for integrators (only a hash is kept) and staff users with their roles.

Uses: nothing but the shared modules.
"""
