"""Prometheus metrics: requests, latency, predictions, the log store and the model version.

One `Metrics` object per app, in `app.extensions["metrics"]`, with its own registry, so apps
built in one process (tests) never share counters. Under Gunicorn every worker is a process:
gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported, each
worker writes its values to files there, and a scrape sums the files of all workers
(prometheus_client's multiprocess mode), whichever worker answers it.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from typing import Any

import numpy as np
from flask import Flask, current_app, g, request

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: How often a worker copies its log-store status into the gauges while serving requests.
GAUGE_REFRESH_SECONDS = 1.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROBABILITY_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 11))
#: Fewer scores than this are observed one by one; more (a batch) with observe_many.
OBSERVED_ONE_BY_ONE = 16


def observe_many(histogram, values) -> None:
    """histogram.observe(value) for each of `values` (a NumPy array), in one increment a bucket.

    A batch of 1,000 observed one by one took a tenth of its request's CPU time (two locked,
    file-backed increments a value in multiprocess mode); this makes a dozen. The counts are
    the same; the sum may differ from adding the values one at a time in its last bits.
    """
    histogram._raise_if_not_observable()
    # observe() counts a value in the first bucket whose bound is >= it: searchsorted's "left".
    bounds = np.array(histogram._upper_bounds)
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds) + 1)
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=False):  # a NaN is in none
        if count:
            bucket.inc(count)
    histogram._sum.inc(float(np.sum(values)))


class Metrics:
    """The service's metrics and the hooks that move them."""

    def __init__(self, multiprocess_dir: str | None = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "lungrisk_http_requests",
            "HTTP requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "lungrisk_http_request_duration_seconds",
            "Time to answer a request, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "lungrisk_predictions",
            "Records scored, by predicted class and risk level.",
            ["prediction", "risk_level"],
            registry=r,
        )
        self.probability = Histogram(
            "lungrisk_prediction_probability",
            "Predicted probability of lung cancer, per scored record.",
            buckets=PROBABILITY_BUCKETS,
            registry=r,
        )
        self.log_pending = Gauge(
            "lungrisk_log_store_pending_entries",
            "Log entries buffered in the workers, not yet written.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.log_healthy = Gauge(
            "lungrisk_log_store_healthy",
            "1 when every worker's last log-store write or ping succeeded, else 0.",
            multiprocess_mode="livemin",
            registry=r,
        )
        self.log_failures = Counter(
            "lungrisk_log_store_failures",
            "Times a worker found the log store failing after it had worked.",
            registry=r,
        )
        self.log_dropped = Counter(
            "lungrisk_log_store_dropped_entries",
            "Log entries dropped: buffer full or unstorable.",
            registry=r,
        )
        self.model_info = Gauge(
            "lungrisk_model_info",
            "The served model (always 1).",
            ["model_version", "model_name"],
            multiprocess_mode="max",
            registry=r,
        )
        self._request_series: dict[tuple, tuple] = {}
        self._prediction_series: dict[tuple, Any] = {}
        self._refreshed_at = 0.0
        self._seen_dropped = 0
        self._was_healthy = True
        self._pid = os.getpid()

    # -- hooks -----------------------------------------------------------------------------

    def observe_response(self, response):
        """after_request: count and time the request."""
        # The request object once, not through the `request` proxy twice (a context lookup each):
        # with the latency and status this hook went from 10.4 to 8.0 us a response.
        current = request._get_current_object()
        rule = current.url_rule
        key = (rule.rule if rule is not None else "unmatched", current.method, response.status_code)
        children = self._request_series.get(key)
        if children is None:  # labels() costs a microsecond or two: look each series up once
            labels = (key[0], key[1], str(key[2]))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._request_series[key] = children
        children[0].inc()
        started = g.get("started")
        if started is not None:
            children[1].observe(time.perf_counter() - started)
        if time.monotonic() - self._refreshed_at >= GAUGE_REFRESH_SECONDS:
            self.refresh(current_app)
        return response

    def observe_predictions(self, results) -> None:
        """Count scored records by class and risk level, and their scores; the predict view calls
        it with the model service's Predictions."""
        # One increment per series, not per record: a batch of 1,000 touches a handful.
        if len(results) == 1:  # most requests: no tally to build
            tally = {(results.prediction[0], results.risk_level[0]): 1}
        else:
            tally = collections.Counter(zip(results.prediction, results.risk_level, strict=True))
        for key, count in tally.items():
            counter = self._prediction_series.get(key)
            if counter is None:
                counter = self._prediction_series[key] = self.predictions.labels(str(key[0]), key[1])
            counter.inc(count)
        if len(results) < OBSERVED_ONE_BY_ONE:
            for score in results.scores:
                self.probability.observe(score)
        else:
            observe_many(self.probability, results.scores)

    def refresh(self, app: Flask) -> None:
        """Copy this worker's log-store status and the model version into the metrics."""
        if os.getpid() != self._pid:  # forked since the last refresh: counts restart with the worker
            self._pid, self._seen_dropped, self._was_healthy = os.getpid(), 0, True
        self._refreshed_at = time.monotonic()
        status = app.extensions["prediction_log"].status()
        self.log_pending.set(status["pending"])
        self.log_healthy.set(1 if status["healthy"] else 0)
        if self._was_healthy and not status["healthy"]:
            self.log_failures.inc()
            logger.warning("Log store failing: %s", status["error"])
        self._was_healthy = status["healthy"]
        dropped = int(status["dropped"])
        if dropped > self._seen_dropped:
            self.log_dropped.inc(dropped - self._seen_dropped)
            self._seen_dropped = dropped
        model = app.extensions.get("model_service")
        if model is not None:
            self.model_info.labels(model.version, model.card.get("model_name", "")).set(1)

    # -- exposition ------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets (every worker's values in multiprocess mode) and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        if self.multiprocess_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        else:
            registry = self.registry
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _values_in_files() -> bool:
    from prometheus_client import values

    return values.ValueClass.__name__ != "MutexValue"


def metrics(app: Flask | None = None) -> Metrics:
    return (app or current_app).extensions["metrics"]


def init_app(app: Flask, multiprocess_dir: str | None) -> None:
    """Create the app's metrics and hook them to every response.

    `multiprocess_dir` is the PROMETHEUS_MULTIPROC_DIR setting (gunicorn.conf.py sets it).
    """
    directory = multiprocess_dir or None
    if directory and not _values_in_files():
        logger.error(
            "%s was set after prometheus_client was imported: metrics count this process only", MULTIPROC_ENV
        )
        directory = None
    app.extensions["metrics"] = instance = Metrics(directory)
    app.after_request(instance.observe_response)
    logger.debug("Metrics %s", f"in multiprocess mode ({directory})" if directory else "in this process only")
