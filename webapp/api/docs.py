"""The OpenAPI document (/openapi.json) and interactive docs (/docs) of the JSON API.

Swagger UI's files come from the flask-swagger-ui package and are served by the app, so the docs
work with no internet; the page keeps the admin pages' Content-Security-Policy (its start script
is a static file, not inline).
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory, url_for

#: Swagger UI 5 (the first major version to render OpenAPI 3.1), as the package ships it.
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

docs = Blueprint("docs", __name__)


@docs.get("/openapi.json")
def document():
    return jsonify(current_app.extensions["openapi"])


@docs.get("/docs")
def page():
    return render_template("docs.html", spec_url=url_for(".document"))


@docs.get("/docs/assets/<path:filename>")
def assets(filename: str):
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=3600)
