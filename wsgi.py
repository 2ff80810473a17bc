"""WSGI entry point: `waitress-serve --call wsgi:create_app` or any WSGI server with wsgi:app."""
from surveyd import create_app

app = create_app()
