"""PredictionLog: what the app uses to record predictions without waiting on the store.

``record()`` only appends to an in-memory buffer; a daemon thread, started on first use in
each process (so after Gunicorn forks), writes everything pending in batches of up to
MAX_BATCH entries. When the store is down the entries stay buffered, in order, and the
thread retries every ``retry_interval`` seconds. When the buffer is full the OLDEST entries are dropped and
counted: during a long outage the most recent activity is the most useful to keep.

A working store that falls behind (sustained batches of a thousand records outrun the writer,
which shares its worker's GIL with the request threads) slows the requests instead of losing
their entries: while more than BACKPRESSURE_SHARE of the buffer waits, ``record()`` waits too, at
most BACKPRESSURE_WAIT seconds, and only while the store's last write succeeded. A store that is
down never slows a prediction.

A batch the store refuses while it is up (an entry it cannot take) is written again entry by
entry, so one bad entry never takes others with it: that entry is stored reduced (see
``reduce.py``), and only when even that fails is it lost and counted as ``unstored``.
"""

from __future__ import annotations

import atexit
import collections
import datetime as dt
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from webapp.logstore import blocks
from webapp.logstore.base import DriftWindow, LogPage, LogQuery, LogStore, StoreUnavailable, SummaryColumns
from webapp.logstore.entry import format_timestamp
from webapp.logstore.reduce import reduce_entry
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

#: status() asks the store for a ping at most this often, so /health stays cheap.
PING_INTERVAL = 1.0
#: Entries per store.append: a large backlog after an outage is written in short steps, so no
#: single write holds the SQLite lock or blocks Redis for long or runs into the read timeout.
MAX_BATCH = 500
#: Seconds the writer waits for more entries before a write (unless flushing or stopping):
#: one commit for many entries costs a fraction of a commit each (SQLite: ~30 us an entry in
#: batches of 100 against ~130 us alone), which keeps the writer's CPU off the request path.
LINGER = 0.05
#: Age retention runs in the writer, after a write, at most this often (seconds) per process: an
#: index range delete of a minute's worth of entries, never on the request path.
TRIM_INTERVAL = 60.0
#: How long a read waits for this process's pending entries to be written first.
READ_FLUSH_TIMEOUT = 0.5
#: record() waits while more than this share of the buffer is pending and the store works...
BACKPRESSURE_SHARE = 0.3
#: ...for at most this many seconds; past it the entries are buffered (and the oldest dropped).
BACKPRESSURE_WAIT = 1.0


def _reset_in_child(ref: weakref.ref) -> None:
    log = ref()
    if log is not None:
        log._reset_state()


class PredictionLog:
    """Buffered, non-blocking front of a LogStore. One per process."""

    def __init__(
        self,
        store: LogStore,
        buffer_size: int = DEFAULTS.log_buffer_size,
        retry_interval: float = 1.0,
        linger: float = LINGER,
        max_age_days: float | None = None,
        trim_interval: float = TRIM_INTERVAL,
    ) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be at least 1")
        self.store = store
        self.buffer_size = buffer_size
        self.retry_interval = retry_interval
        self.linger = linger
        self.max_age_days = max_age_days
        self.trim_interval = trim_interval
        self._reset_state()
        # Entries buffered by the parent are the parent's to write; the child starts clean.
        ref = weakref.ref(self)  # not self: the fork hook must not keep the log alive
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset_state(self) -> None:
        self._condition = threading.Condition()
        self._buffer: collections.deque[dict] = collections.deque()
        #: id() of the first buffered entry of each batch recorded with `inputs` -> how many
        #: entries that run has, and their inputs' rows (the entries are in the buffer, alive,
        #: while their key is here).
        self._run_starts: dict[int, tuple[int, Any]] = {}
        self._in_flight = 0
        self._flushing = 0
        self._dropped = 0
        self._reduced = 0
        self._unstored = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._healthy = True
        self._error: str | None = None
        self._checked_at = 0.0
        self._trimmed_at: float | None = None

    @property
    def kind(self) -> str:
        return self.store.kind

    def record(self, entries: Sequence[dict], *, owned: bool = False, inputs: Any = None) -> None:
        """Queue entries for writing. Never raises for store problems, never waits on I/O; waits
        at most BACKPRESSURE_WAIT for a working store's writer that has fallen behind.

        Each entry is copied, so that the caller may go on using its dict; `owned`: the caller
        made these dicts for the log and never touches them again (entry.for_predictions'),
        which are then kept as they are (1,000 copies: about half a millisecond).

        `inputs` (with `owned`): the entries are one batch's, made together by
        entry.for_predictions from records that passed the plain-batch check, and these are
        their inputs as that check's integer matrix (a row an entry, FEATURES order). They
        share their fields' objects and input keys as one block does (blocks.py): the store is
        told so rather than compare every entry to find it out (about 2.5 us an entry), and
        takes the inputs and their drift codes from the matrix."""
        with self._condition:
            if self._thread is None:
                self._start_writer()
            if self._healthy and len(self._buffer) > self._backpressure_mark:
                self._condition.wait_for(self._caught_up, BACKPRESSURE_WAIT)
            was_empty = not self._buffer
            self._buffer.extend(entries if owned else map(dict, entries))
            if inputs is not None and owned and len(entries) >= blocks.MIN_BLOCK:
                self._run_starts[id(entries[0])] = (len(entries), inputs)
            # Full: the oldest go (those just added too, when there are more than the buffer holds).
            overflow = len(self._buffer) - self.buffer_size
            for _ in range(overflow):
                self._run_starts.pop(id(self._buffer.popleft()), None)
            self._dropped += max(overflow, 0)
            # Wake the writer only when it waits for a first entry or a full batch: waking it on
            # every record made it take the GIL, re-check and sleep again for each prediction
            # (a tenth of a worker's time under load). notify_all, as flush() waits on the same
            # condition and must not take the wake-up.
            if was_empty or len(self._buffer) >= MAX_BATCH:
                self._condition.notify_all()

    @property
    def _backpressure_mark(self) -> int:
        return int(self.buffer_size * BACKPRESSURE_SHARE)

    def _caught_up(self) -> bool:
        """Whether a waiting record() may go on: the backlog is down, or the store is not working."""
        return len(self._buffer) <= self._backpressure_mark or not self._healthy or self._stopping.is_set()

    def _start_writer(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"prediction-log-{self.kind}", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._buffer or self._stopping.is_set())
                if self.linger:
                    self._condition.wait_for(self._batch_ready, self.linger)
                if not self._buffer:
                    return
                batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), MAX_BATCH))]
                runs = self._runs_taken(batch)
                self._in_flight = len(batch)
            if self._write(batch, runs):
                self._trim_if_due()
            elif self._stopping.wait(self.retry_interval):
                with self._condition:
                    lost = len(self._buffer)
                if lost:
                    logger.warning("Prediction log stopped with %d entries unwritten", lost)
                return

    def _trim_if_due(self) -> None:
        """Remove entries older than max_age_days, at most every trim_interval seconds.

        None or 0: no age retention (create_prediction_log passes LOG_MAX_AGE_DAYS)."""
        if not self.max_age_days or self.max_age_days <= 0:
            return
        now = time.monotonic()
        if self._trimmed_at is not None and now - self._trimmed_at < self.trim_interval:
            return
        self._trimmed_at = now
        cutoff = format_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=self.max_age_days))
        try:
            removed = self.store.remove_older_than(cutoff)
        except StoreUnavailable as exc:  # retried at the next interval; writes report the outage
            logger.warning("Prediction log age retention failed: %s", exc)
            return
        if removed:
            logger.info("Prediction log removed %d entries older than %s", removed, cutoff)

    def _batch_ready(self) -> bool:
        return len(self._buffer) >= MAX_BATCH or self._flushing or self._stopping.is_set()

    def _runs_taken(self, batch: list[dict]) -> list[tuple[int, int, Any]]:
        """The spans of `batch` (just taken from the buffer) that batches recorded with `inputs`
        make, with their inputs' rows, their keys dropped; a run that MAX_BATCH cut keeps its
        rest's at the buffer's head."""
        starts = self._run_starts
        if not starts:
            return []
        runs, index, count = [], 0, len(batch)
        while index < count:
            length, inputs = starts.pop(id(batch[index]), (0, None))
            if not length:
                index += 1
                continue
            stop = min(index + length, count)
            if index + length > count:
                starts[id(self._buffer[0])] = (index + length - count, inputs[count - index :])
            runs.append((index, stop, inputs[: stop - index]))
            index = stop
        return runs

    def _write(self, batch: list[dict], runs: Sequence[tuple[int, int, Any]] = ()) -> bool:
        """Store the batch (`runs`: _runs_taken's); False when the store is down (the batch is
        back in the buffer, its runs no longer known: the store finds them again)."""
        try:
            self.store.append(batch, runs=runs)
        except Exception as exc:
            if isinstance(exc, StoreUnavailable) and not self._reachable():
                return self._postpone(batch, exc)
            logger.warning(
                "Prediction log batch of %d entries refused, writing them one by one: %s", len(batch), exc
            )
            return self._write_each(batch)
        self._written()
        return True

    def _write_each(self, batch: list[dict]) -> bool:
        """Write entry by entry, so an entry the store refuses is the only one affected."""
        for index, entry in enumerate(batch):
            try:
                self._store_alone(entry)
            except StoreUnavailable as exc:  # the store went down meanwhile
                return self._postpone(batch[index:], exc)
        self._written()
        return True

    def _store_alone(self, entry: dict) -> None:
        """Store the entry, else its reduced form, else count it lost; StoreUnavailable: outage."""
        try:
            self.store.append([entry])
            return
        except Exception as exc:
            self._raise_if_down(exc)
            error = exc
        try:
            self.store.append([reduce_entry(entry, error)])
        except Exception as exc:
            self._raise_if_down(exc)
            logger.error(
                "Prediction log could not store entry %s even reduced: %s", entry.get("request_id"), exc
            )
            with self._condition:
                self._unstored += 1
            return
        logger.warning("Prediction log stored entry %s reduced: %s", entry.get("request_id"), error)
        with self._condition:
            self._reduced += 1

    def _raise_if_down(self, exc: Exception) -> None:
        if isinstance(exc, StoreUnavailable) and not self._reachable():
            raise exc

    def _reachable(self) -> bool:
        """Whether the store answers a ping: tells an outage from an entry it refuses."""
        try:
            self.store.ping()
        except StoreUnavailable:
            return False
        return True

    def _postpone(self, batch: list[dict], exc: Exception) -> bool:
        with self._condition:
            self._requeue(batch)
            self._set_health(False, str(exc))
            self._condition.notify_all()  # a record() waiting on the backlog waits no more
        logger.warning(
            "Prediction log write of %d entries failed, retrying in %.1f s: %s",
            len(batch),
            self.retry_interval,
            exc,
        )
        return False

    def _written(self) -> None:
        with self._condition:
            self._in_flight = 0
            self._set_health(True, None)
            self._condition.notify_all()

    def _requeue(self, batch: list[dict]) -> None:
        """Put a failed batch back in front of newer entries, keeping only the newest ones."""
        self._buffer.extendleft(reversed(batch))
        self._in_flight = 0
        while len(self._buffer) > self.buffer_size:
            self._run_starts.pop(id(self._buffer.popleft()), None)
            self._dropped += 1

    def _set_health(self, healthy: bool, error: str | None) -> None:
        self._healthy, self._error = healthy, error
        self._checked_at = time.monotonic()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every entry buffered in this process is written; False on timeout."""
        with self._condition:
            self._flushing += 1
            self._condition.notify_all()
            try:
                return self._condition.wait_for(lambda: not self._buffer and not self._in_flight, timeout)
            finally:
                self._flushing -= 1

    def status(self) -> dict:
        """Backend, health (last write or ping succeeded), error, and counts of entries pending,
        dropped (buffer full), reduced (stored as text) and unstored (lost: refused even reduced)."""
        if time.monotonic() - self._checked_at >= PING_INTERVAL:
            try:
                self.store.ping()
            except StoreUnavailable as exc:
                healthy, error = False, str(exc)
            else:
                healthy, error = True, None
            with self._condition:
                self._set_health(healthy, error)
        with self._condition:
            return {
                "backend": self.kind,
                "healthy": self._healthy,
                "pending": len(self._buffer) + self._in_flight,
                "dropped": self._dropped,
                "reduced": self._reduced,
                "unstored": self._unstored,
                "error": self._error,
                # A store that knows it lost entries (a Redis that restarted empty) says why.
                "data_loss": getattr(self.store, "data_loss", None),
            }

    def query(self, query: LogQuery) -> LogPage:
        """A page of the stored log, after this process's own pending entries (read your writes)."""
        self.flush(READ_FLUSH_TIMEOUT)
        return self.store.query(query)

    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        """Every matching stored entry, after this process's own pending ones, newest first."""
        self.flush(READ_FLUSH_TIMEOUT)
        return self.store.iter_entries(query)

    def summary_entries(self, query: LogQuery, cap: int) -> list[dict]:
        """The newest `cap` matching entries cut down to what summaries read (see the store)."""
        self.flush(READ_FLUSH_TIMEOUT)
        return self.store.summary_entries(query, cap)

    def summary_columns(self, query: LogQuery, cap: int) -> SummaryColumns:
        """What the summary and charts read of the newest `cap` matching entries (see the store)."""
        self.flush(READ_FLUSH_TIMEOUT)
        return self.store.summary_columns(query, cap)

    def drift_window(self, query: LogQuery, last: int) -> DriftWindow:
        """The entries the drift compares among the newest `last` matching ones (see the store)."""
        self.flush(READ_FLUSH_TIMEOUT)
        return self.store.drift_window(query, last)

    def clear(self) -> int:
        """Write what is pending (so it is cleared too), then remove every stored entry."""
        self.flush()
        return self.store.clear()

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the writer thread and close the store. Safe to call twice."""
        atexit.unregister(self.close)
        if not self.flush(timeout):
            logger.warning("Prediction log closing with %d entries unwritten", self.status()["pending"])
        thread = self._thread
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.store.close()
