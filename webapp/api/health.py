"""Health, liveness and readiness probes. Probes are never logged as predictions."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from webapp.version import __version__

health = Blueprint("health", __name__)


def _model_loaded() -> bool:
    return current_app.extensions.get("model_service") is not None


@health.get("/health")
def overall():
    """`healthy`, `degraded` (predicts, but the log store is down or dropped entries) or
    `unhealthy` (cannot predict: 503): the words the service this one replaces used."""
    log_status = current_app.extensions["prediction_log"].status()
    reasons = []
    if not log_status["healthy"]:
        reasons.append(f"log store unavailable: {log_status['error']}")
    if log_status["dropped"]:
        reasons.append(f"{log_status['dropped']} log entries dropped (buffer full)")
    if log_status["data_loss"]:
        reasons.append(log_status["data_loss"])
    if log_status["unstored"]:
        reasons.append(f"{log_status['unstored']} log entries refused by the store")
    model_loaded = _model_loaded()
    if not model_loaded:
        status = "unhealthy"
        reasons.insert(0, "model not loaded")
    else:
        status = "degraded" if reasons else "healthy"
    body = {
        "status": status,
        "model_loaded": model_loaded,
        "redis_connected": log_status["backend"] == "redis" and log_status["healthy"],
        "log_store": log_status["backend"],
        "log_store_healthy": log_status["healthy"],
        "log_buffer": {key: log_status[key] for key in ("pending", "dropped", "reduced", "unstored")},
        "reasons": reasons,
        "version": __version__,
    }
    return jsonify(body), 200 if model_loaded else 503


@health.get("/health/live")
def live():
    return jsonify(status="alive")


@health.get("/health/ready")
def ready():
    if _model_loaded():
        return jsonify(status="ready")
    return jsonify(status="not_ready", reason="model not loaded"), 503
