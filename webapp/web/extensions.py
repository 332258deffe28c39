"""Long-lived objects, created once per process and kept in `app.extensions`."""

from __future__ import annotations

import logging

from flask import Flask, current_app

from webapp.logstore import PredictionLog, create_prediction_log
from webapp.model_service import ModelService
from webapp.settings import Settings
from webapp.web.session_version import create_session_version

logger = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings) -> None:
    """Load the model (once, before Gunicorn forks) and set up the prediction log.

    A model that fails its checks raises ModelLoadError here, so the service refuses to start.
    The log store connects lazily, so each forked worker opens its own connections.
    """
    model = ModelService.load(settings.model_dir)
    app.extensions["model_service"] = model
    app.extensions["prediction_log"] = create_prediction_log(settings)
    app.extensions["session_version"] = create_session_version(app.config)
    logger.info(
        "Model %s loaded; prediction log backend: %s", model.version, app.extensions["prediction_log"].kind
    )


def model_service(app: Flask | None = None) -> ModelService:
    """The app's model service; `app` defaults to the current one (a caller that holds it saves
    a context look-up)."""
    return (app or current_app).extensions["model_service"]


def prediction_log(app: Flask | None = None) -> PredictionLog:
    return (app or current_app).extensions["prediction_log"]
