"""WSGI entry point: any WSGI server with wsgi:app; Celery with `celery -A wsgi.celery_app worker`."""
from surveyd import create_app

app = create_app()
celery_app = app.extensions["celery"]
