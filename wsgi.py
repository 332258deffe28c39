"""WSGI entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py, the environment and `.env`)."""

from dotenv import load_dotenv

from webapp.api import create_app
from webapp.settings import PROJECT_ROOT

load_dotenv(PROJECT_ROOT / ".env", override=False)
app = create_app()
