"""Settings: one place that reads the environment (and `.env`, through python-dotenv)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

from dotenv import load_dotenv

_CHECKOUT = Path(__file__).resolve().parent.parent
# Running from a checkout (or an editable install), templates/, static/ and model/ sit beside the
# package. A regular `pip install .` puts them under <prefix>/share/lung-cancer-risk (setup.cfg's
# data_files), and the log file then defaults to ./instance in the working directory.
RUNS_FROM_CHECKOUT = (_CHECKOUT / "templates").is_dir()
PROJECT_ROOT = _CHECKOUT if RUNS_FROM_CHECKOUT else Path(sys.prefix) / "share" / "lung-cancer-risk"
INSTANCE_DIR = _CHECKOUT / "instance" if RUNS_FROM_CHECKOUT else Path.cwd() / "instance"


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


class Config:
    """Defaults for `create_app`, read from the environment when the app is built.

    Every setting is listed in the README's settings table.
    """

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        if environ is None:
            load_dotenv(PROJECT_ROOT / ".env", override=False)
            environ = os.environ
        return {
            "MODEL_DIR": environ.get("MODEL_DIR") or str(PROJECT_ROOT / "model"),
            "REDIS_URL": environ.get("REDIS_URL") or None,
            "REDIS_KEY_PREFIX": environ.get("REDIS_KEY_PREFIX") or "lungrisk",
            "LOG_DB_PATH": environ.get("LOG_DB_PATH") or str(INSTANCE_DIR / "predictions.sqlite3"),
            "LOG_MAX_ENTRIES": _int(environ, "LOG_MAX_ENTRIES", 50000),
            "LOG_BUFFER_SIZE": _int(environ, "LOG_BUFFER_SIZE", 10000),
            "MAX_BATCH_SIZE": _int(environ, "MAX_BATCH_SIZE", 1000),
            "MAX_CONTENT_LENGTH": _int(environ, "MAX_CONTENT_LENGTH", 2 * 1024 * 1024),
            "ADMIN_TOKEN": environ.get("ADMIN_TOKEN") or None,
            "SPACE_ID": environ.get("SPACE_ID") or None,
            "SECRET_KEY": environ.get("SECRET_KEY") or None,
            # Proxies in front whose X-Forwarded-* headers are believed (1 behind the Space's nginx).
            "TRUSTED_PROXIES": _int(environ, "TRUSTED_PROXIES", 0),
            "LOG_LEVEL": environ.get("LOG_LEVEL") or "INFO",
            # Refused admin logins per client address (Flask-Limiter notation).
            "LOGIN_RATE_LIMIT": environ.get("LOGIN_RATE_LIMIT") or "10 per minute; 50 per hour",
            # Per client address: prediction requests (accepted or not) and rows predicted.
            "PREDICT_RATE_LIMIT": environ.get("PREDICT_RATE_LIMIT") or "300 per minute",
            "PREDICT_ROWS_RATE_LIMIT": environ.get("PREDICT_ROWS_RATE_LIMIT") or "5000 per hour",
            # Addresses never rate-limited (comma-separated): the UI's own calls, local tools.
            "RATE_LIMIT_EXEMPT": tuple(
                address.strip() for address in
                (environ.get("RATE_LIMIT_EXEMPT") or "127.0.0.1,::1").split(",") if address.strip()),
        }
