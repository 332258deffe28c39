"""The API process's Flask app: `create_app` builds it (wsgi.py serves it under Gunicorn)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from webapp.admin.account import account, limit_logins
from webapp.admin.log_page import log_page
from webapp.admin.monitoring_page import monitoring_page
from webapp.api import instrumentation
from webapp.api.docs import docs
from webapp.api.health import health
from webapp.api.info import info
from webapp.api.logs import logs
from webapp.api.metrics import metrics
from webapp.api.openapi import build_spec
from webapp.api.predict import predict
from webapp.settings import PROJECT_ROOT, Settings
from webapp.web import cors, extensions, language, limits, request_context, security
from webapp.web.errors import register_errorhandlers
from webapp.web.json_provider import OrjsonProvider
from webapp.web.negotiation import API_PREFIX

STATIC_URL_PATH = "/admin-static"
_SYNC_CACHE_SIZE = 1024


class App(Flask):
    """Flask, remembering which views and hooks are plain functions.

    Flask asks `inspect.iscoroutinefunction` of the view and of every request hook on every
    request (seven times a prediction, a twentieth of the framework's time); the answer never
    changes for a given function.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Any, Any] = {}

    def ensure_sync(self, func):
        try:
            return self._sync_functions[func]
        except KeyError:
            synced = super().ensure_sync(func)
            if len(self._sync_functions) < _SYNC_CACHE_SIZE:  # bounded, should a caller make new ones
                self._sync_functions[func] = synced
            return synced
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then `overrides` (tests pass a dict)."""
    app = App(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        # Not /static: behind the Space's single port, Gradio owns /static (its fonts and scripts).
        static_url_path=STATIC_URL_PATH,
    )
    settings = Settings.from_env().replace(overrides or {})
    app.config.from_mapping(settings.as_config())
    app.config.from_mapping(overrides or {})  # Flask's own keys too (TESTING, ...)
    configure_logging(settings.log_level)
    app.json = OrjsonProvider(app)
    register_extensions(app, settings)
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def configure_logging(level: str) -> None:
    """Configure the root logger once per process (Gunicorn's own loggers are left alone)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level, format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
        )
    logging.getLogger("webapp").setLevel(level)


def register_extensions(app: Flask, settings: Settings) -> None:
    request_context.init_app(app)
    security.init_app(app)
    language.init_app(app)
    cors.init_app(app)  # after language: its Vary: Origin comes first, Accept-Language is added to it
    extensions.init_app(app, settings)
    instrumentation.init_app(app, settings.prometheus_multiproc_dir)
    limits.init_app(app)


def register_blueprints(app: Flask) -> None:
    for blueprint in (info, health, predict, logs, docs):
        app.register_blueprint(blueprint)
        app.register_blueprint(blueprint, url_prefix=API_PREFIX, name=f"api_{blueprint.name}")
    app.register_blueprint(account)  # browser pages: not under /api
    limit_logins(app)
    app.register_blueprint(log_page)
    app.register_blueprint(monitoring_page)  # its page and its own /api/monitoring/drift
    app.register_blueprint(metrics)  # /metrics only: Prometheus scrapes one path
    # Built once, from the routes just registered: a document that cannot be built stops the start.
    app.extensions["openapi"] = build_spec(app, API_PREFIX)
