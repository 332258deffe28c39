"""WSGI entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py)."""
from webapp.api import create_app

app = create_app()
