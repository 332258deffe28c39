"""entry.now writes what format_timestamp writes for the same moment (it takes a shortcut)."""

from __future__ import annotations

import datetime as dt

import pytest

from webapp.logstore import entry

NANOSECONDS = [
    0,
    999_999,  # below a millisecond: truncated, as datetime's isoformat does
    1_000_000,
    1_764_000_000_999_999_999,  # the last nanosecond of a second
    1_764_000_001_000_000_000,  # the next second: a new prefix
    1_798_761_599_123_456_789,  # the last second of a year
    1_798_761_600_000_000_000,
]


@pytest.mark.parametrize("nanoseconds", NANOSECONDS)
def test_now_is_format_timestamp_of_the_same_moment(monkeypatch, nanoseconds):
    monkeypatch.setattr(entry.time, "time_ns", lambda: nanoseconds)
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=rest // 1000)
    assert entry.now() == entry.format_timestamp(moment)


def test_now_reads_the_clock_datetime_reads():
    for _ in range(1000):
        before = entry.format_timestamp(dt.datetime.now(dt.UTC))
        now = entry.now()
        after = entry.format_timestamp(dt.datetime.now(dt.UTC))
        assert entry.TIMESTAMP.fullmatch(now)
        assert before <= now <= after
