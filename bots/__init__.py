"""Channel adapters and the chat conversation engine; nothing here imports surveyd, Flask or SQLAlchemy."""
