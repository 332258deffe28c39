"""Gunicorn reads ./gunicorn.conf.py by default: `gunicorn wsgi:app` from the project root gets
the project's settings, which live in the package (so `lungrisk-api` has them after `pip install .`)."""

from webapp.gunicorn_config import *  # noqa: F401,F403
