"""Service information and model metadata."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from webapp.version import __version__
from webapp.web.extensions import model_service
from webapp.web.language import request_language

info = Blueprint("info", __name__)

ENDPOINTS = {
    "info": "/",
    "health": "/health",
    "liveness": "/health/live",
    "readiness": "/health/ready",
    "metadata": "/metadata",
    "predict": "/predict",
    "predict_proba": "/predict_proba",
    "logs": "/logs",
}


def _prefixed(path: str) -> str:
    """Answer with the paths of the family the client used: `/predict` or `/api/predict`."""
    return ("/api" if request.path.startswith("/api") else "") + path


@info.get("/")
def index():
    model = model_service()
    return jsonify(
        message="Lung cancer risk prediction API. A screening aid on a small public survey "
        "dataset, not a diagnosis.",
        version=__version__,
        model_version=model.version,
        endpoints={name: _prefixed(path) for name, path in ENDPOINTS.items()},
    )


@info.get("/metadata")
def metadata():
    return jsonify({**model_service().metadata(request_language()), "api_version": __version__})
