"""The prediction log: every /predict call and rejected request, kept for review.

An entry is a plain JSON-serialisable dict; ``webapp.logstore.entry`` names its fields and
builds it. Stores assign the ``id`` (increasing across processes) and keep everything else.

The app holds one PredictionLog per process (``create_prediction_log(settings)``) and
records through it; the store behind it is SQLite (one file shared by the workers) or Redis
(shared by every instance) when ``REDIS_URL`` is set.
"""

from __future__ import annotations

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
from webapp.settings import Settings

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


def create_store(settings: Settings) -> LogStore:
    """Redis when ``redis_url`` is set, else SQLite at ``log_db_path``. Connects lazily."""
    if settings.redis_url:
        return RedisLogStore(
            settings.redis_url, prefix=settings.redis_key_prefix, max_entries=settings.log_max_entries
        )
    if not settings.log_db_path:
        raise ValueError("Set REDIS_URL or LOG_DB_PATH to choose where predictions are logged")
    return SQLiteLogStore(settings.log_db_path, max_entries=settings.log_max_entries)


def create_prediction_log(settings: Settings) -> PredictionLog:
    """The per-process prediction log the settings describe."""
    return PredictionLog(
        create_store(settings), buffer_size=settings.log_buffer_size, max_age_days=settings.log_max_age_days
    )
