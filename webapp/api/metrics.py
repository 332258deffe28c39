"""GET /metrics: the Prometheus exposition, admin only (Prometheus sends the Bearer token)."""

from __future__ import annotations

from flask import Blueprint, current_app

from webapp.api.instrumentation import metrics as app_metrics
from webapp.web.auth import admin_required

metrics = Blueprint("metrics", __name__)


@metrics.get("/metrics")
@admin_required
def scrape():
    collector = app_metrics()
    collector.refresh(current_app)
    body, content_type = collector.exposition()
    return body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"}
