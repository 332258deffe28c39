"""Settings: the one place where a default lives, for the API, its log store, the UI and the proxy.

    settings = Settings.from_env()          # a process's settings, from os.environ
    Settings(max_batch_size=5)              # defaults, then the given values (tests)

Reading the environment is all this module does: `.env` is read at the process entry points
(wsgi.py, `python -m webapp.ui`, the CLI tools), never here, and nothing heavy is imported, so
the proxy and the UI use it without loading Flask. Every setting is listed in the README's
settings table; `create_app` copies them into `app.config` under their upper-case names.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent
# Running from a checkout (or an editable install), templates/, static/ and model/ sit beside the
# package. A regular `pip install .` puts them under <prefix>/share/lung-cancer-risk (setup.cfg's
# data_files), and the log file then defaults to ./instance in the working directory.
RUNS_FROM_CHECKOUT = (_CHECKOUT / "templates").is_dir()
PROJECT_ROOT = _CHECKOUT if RUNS_FROM_CHECKOUT else Path(sys.prefix) / "share" / "lung-cancer-risk"
INSTANCE_DIR = _CHECKOUT / "instance" if RUNS_FROM_CHECKOUT else Path.cwd() / "instance"

PROXY_MODES = ("pooled", "simple")


@dataclasses.dataclass(frozen=True)
class Settings:
    # -- the API (webapp.api) and its prediction log (webapp.logstore) ---------------------
    #: Folder with model.joblib, model_card.json and reference.json.
    model_dir: str = str(PROJECT_ROOT / "model")
    #: Log to Redis when set; otherwise to the SQLite file at log_db_path.
    redis_url: str | None = dataclasses.field(default=None, repr=False)  # may hold a password
    redis_key_prefix: str = "lungrisk"
    log_db_path: str = str(INSTANCE_DIR / "predictions.sqlite3")
    #: Retention: the newest entries kept.
    log_max_entries: int = 50000
    #: Retention: entries older than this many days are removed (0: no age limit). A month covers
    #: a monthly review and the drift window, and keeps anonymous visitors' health answers no
    #: longer than that review needs.
    log_max_age_days: float = 30.0
    #: Entries a worker holds in memory while the store is down.
    log_buffer_size: int = 10000
    max_batch_size: int = 1000
    max_content_length: int = 2 * 1024 * 1024
    admin_token: str | None = dataclasses.field(default=None, repr=False)
    #: Set by Hugging Face Spaces: admin endpoints close without an admin token.
    space_id: str | None = None
    secret_key: str | None = dataclasses.field(default=None, repr=False)
    #: Proxies in front whose X-Forwarded-* headers are believed (1 behind the Space's nginx).
    trusted_proxies: int = 0
    log_level: str = "INFO"
    #: Origins whose pages may call the public JSON endpoints: *, a comma-separated list, or `none`.
    cors_origins: str = "*"
    #: Refused admin logins per client address (Flask-Limiter notation).
    login_rate_limit: str = "10 per minute; 50 per hour"
    #: Per client address: prediction requests (accepted or not), and rows predicted.
    predict_rate_limit: str = "300 per minute"
    predict_rows_rate_limit: str = "5000 per hour"
    #: Addresses never rate-limited (comma-separated in the environment): the UI's own calls, local tools.
    rate_limit_exempt: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Where Gunicorn's workers write their Prometheus metrics (gunicorn.conf.py sets it).
    prometheus_multiproc_dir: str | None = None
    # -- the UI (webapp.ui) and its client of the API (webapp.proxy) -----------------------
    api_url: str = "http://127.0.0.1:8000"
    ui_host: str = "127.0.0.1"
    ui_port: int = 7860
    #: UI handlers calling the API at once; the pooled proxy keeps as many connections.
    ui_concurrency: int = 8
    #: Requests allowed to wait in Gradio's queue before new ones are turned away.
    ui_queue_size: int = 64
    #: Rows a single CSV upload may hold.
    ui_batch_max_rows: int = 1000
    #: `pooled` (one keep-alive pool, retries) or `simple`; from_env picks pooled on a Space.
    proxy_mode: str = "simple"
    proxy_connect_timeout: float = 3.05
    proxy_read_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.proxy_mode not in PROXY_MODES:
            raise ValueError(f"PROXY_MODE must be one of {', '.join(PROXY_MODES)}, got {self.proxy_mode!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives (os.environ by default); unset or empty means default."""
        environ = os.environ if environ is None else environ
        given: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(field.name.upper())
            if raw is not None and raw.strip() != "":
                given[field.name] = _parse(field, raw.strip())
        for name, fallback in (("ui_host", "GRADIO_SERVER_NAME"), ("ui_port", "GRADIO_SERVER_PORT")):
            if name not in given and environ.get(fallback):
                given[name] = _parse(_FIELDS[name], environ[fallback].strip())
        if "proxy_mode" in given:
            given["proxy_mode"] = given["proxy_mode"].lower()
        elif given.get("space_id"):
            given["proxy_mode"] = "pooled"
        return cls(**given)

    def replace(self, overrides: Mapping[str, Any]) -> Settings:
        """These settings with `overrides` (upper-case names, as in app.config); other keys ignored."""
        given = {key.lower(): value for key, value in overrides.items() if key.lower() in _FIELDS}
        return dataclasses.replace(self, **given)

    def as_config(self) -> dict[str, Any]:
        """The settings under their upper-case names, for Flask's app.config."""
        return {field.upper(): getattr(self, field) for field in _FIELDS}

    @property
    def proxy_timeout(self) -> tuple[float, float]:
        """(connect, read) in seconds, as requests takes them."""
        return (self.proxy_connect_timeout, self.proxy_read_timeout)


_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}
_TYPES = {"int": int, "float": float}


def _parse(field: dataclasses.Field, raw: str) -> Any:
    if str(field.type).startswith("tuple"):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    convert = _TYPES.get(str(field.type).split(" ")[0])
    if convert is None:
        return raw
    try:
        return convert(raw)
    except ValueError as exc:
        kind = "an integer" if convert is int else "a number"
        raise ValueError(f"{field.name.upper()} must be {kind}, got {raw!r}") from exc


#: The defaults, for code that takes a setting as an argument and needs a default value.
DEFAULTS = Settings()
