"""The prediction log: every /predict call and rejected request, kept for review.

An entry is a plain JSON-serialisable dict: ``id`` (assigned by the store, increasing across
processes), ``timestamp`` (ISO 8601 UTC with milliseconds), ``level`` ("INFO" or "WARNING"),
``endpoint``, ``request_id``, ``inputs``, ``prediction``, ``probability``, ``risk_level``,
``factors``, ``model_version``, ``latency_ms``, ``errors`` and ``message``. Extra keys are kept.

The app holds one PredictionLog per process (``create_prediction_log(app.config)``) and
records through it; the store behind it is SQLite (one file shared by the workers) or Redis
(shared by every instance) when ``REDIS_URL`` is set.
"""
from __future__ import annotations

from typing import Mapping

from webapp.logstore.base import (
    LogPage,
    LogQuery,
    LogStore,
    StoreUnavailable,
    normalize_timestamp,
)
from webapp.logstore.redis import RedisLogStore
from webapp.logstore.sqlite import SQLiteLogStore
from webapp.logstore.writer import PredictionLog

__all__ = [
    "LogPage",
    "LogQuery",
    "LogStore",
    "PredictionLog",
    "RedisLogStore",
    "SQLiteLogStore",
    "StoreUnavailable",
    "create_prediction_log",
    "create_store",
    "normalize_timestamp",
]

DEFAULT_MAX_ENTRIES = 50000
DEFAULT_BUFFER_SIZE = 10000
DEFAULT_KEY_PREFIX = "lungrisk"


def create_store(config: Mapping) -> LogStore:
    """Redis when ``REDIS_URL`` is set, else SQLite at ``LOG_DB_PATH``. Connects lazily."""
    max_entries = int(config.get("LOG_MAX_ENTRIES") or DEFAULT_MAX_ENTRIES)
    redis_url = config.get("REDIS_URL")
    if redis_url:
        prefix = config.get("REDIS_KEY_PREFIX") or DEFAULT_KEY_PREFIX
        return RedisLogStore(redis_url, prefix=prefix, max_entries=max_entries)
    db_path = config.get("LOG_DB_PATH")
    if not db_path:
        raise ValueError("Set REDIS_URL or LOG_DB_PATH to choose where predictions are logged")
    return SQLiteLogStore(db_path, max_entries=max_entries)


def create_prediction_log(config: Mapping) -> PredictionLog:
    """The per-process prediction log described by ``config`` (Flask's app.config works)."""
    buffer_size = int(config.get("LOG_BUFFER_SIZE") or DEFAULT_BUFFER_SIZE)
    return PredictionLog(create_store(config), buffer_size=buffer_size)
