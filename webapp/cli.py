"""Console entry points that need more than a module's `main` (see setup.cfg's entry points)."""

from __future__ import annotations

import sys


def api(argv: list[str] | None = None) -> None:
    """`lungrisk-api [gunicorn options]`: the JSON API under Gunicorn with the project's settings."""
    from gunicorn.app.wsgiapp import run

    sys.argv = [
        "lungrisk-api",
        "--config",
        "python:webapp.gunicorn_config",
        *(sys.argv[1:] if argv is None else argv),
        "wsgi:app",
    ]
    run()
