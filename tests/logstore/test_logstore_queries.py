"""One suite for every LogStore: the same behaviour from SQLite and from a real Redis."""

from __future__ import annotations

import pytest

from webapp.logstore import LogQuery, StoreUnavailable
from webapp.logstore.base import timestamp_ms


def request_ids(entries: list[dict]) -> list[str]:
    return [entry["request_id"] for entry in entries]


def test_append_assigns_increasing_ids(store, make_entry):
    store.append([make_entry(), make_entry()])
    store.append([make_entry()])

    ids = [entry["id"] for entry in store.iter_entries(LogQuery())]

    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 3


def test_query_returns_newest_first(store, make_entry):
    store.append([make_entry(request_id=name) for name in ("a", "b", "c")])

    page = store.query(LogQuery())

    assert request_ids(page.entries) == ["c", "b", "a"]
    assert page.total == 3
    assert page.next_cursor is None


def test_limit_and_offset_select_a_window(store, make_entry):
    store.append([make_entry(request_id=str(number)) for number in range(10)])

    page = store.query(LogQuery(limit=3, offset=2))

    assert request_ids(page.entries) == ["7", "6", "5"]
    assert page.total == 10
    assert page.next_cursor == f"{timestamp_ms(page.entries[-1]['timestamp'])}-{page.entries[-1]['id']}"


def test_last_page_has_no_next_cursor(store, make_entry):
    store.append([make_entry() for _ in range(4)])

    page = store.query(LogQuery(limit=2, offset=2))

    assert len(page.entries) == 2
    assert page.next_cursor is None


def test_cursor_paging_is_stable_while_new_entries_arrive(store, make_entry):
    store.append([make_entry(request_id=f"old-{number}") for number in range(7)])
    seen: list[str] = []

    page = store.query(LogQuery(limit=3))
    while True:
        seen += request_ids(page.entries)
        store.append([make_entry(request_id="new")])
        if page.next_cursor is None:
            break
        page = store.query(LogQuery(limit=3, cursor=page.next_cursor))

    assert seen == [f"old-{number}" for number in reversed(range(7))]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"level": "WARNING"}, ["warn", "100%"]),
        ({"level": "warning"}, ["warn", "100%"]),
        ({"endpoint": "/predict/batch"}, ["batch"]),
        ({"prediction": 0}, ["low"]),
        ({"min_probability": 0.5}, ["batch", "high"]),
        ({"max_probability": 0.5}, ["batch", "low"]),
        ({"min_probability": 0.2, "max_probability": 0.2}, ["low"]),
        ({"since": "2026-11-26T12:00:00.000Z"}, ["warn", "batch"]),
        ({"until": "2026-11-26T11:00:00Z"}, ["low", "high", "100%"]),
        ({"since": "2026-11-26T13:00:00+01:00", "until": "2026-11-26T12:00:00.000Z"}, ["batch"]),
        ({"request_id": "BAT"}, ["batch"]),
        ({"request_id": "%"}, ["100%"]),
        ({"level": "INFO", "prediction": 1}, ["batch", "high"]),
    ],
)
def test_each_filter_selects_only_matching_entries_newest_first_by_time(store, make_entry, filters, expected):
    store.append(
        [
            make_entry(request_id="high", timestamp="2026-11-26T10:00:00.000Z", probability=0.9),
            make_entry(request_id="low", timestamp="2026-11-26T11:00:00.000Z", prediction=0, probability=0.2),
            make_entry(
                request_id="batch",
                timestamp="2026-11-26T12:00:00.000Z",
                endpoint="/predict/batch",
                probability=0.5,
            ),
            make_entry(
                request_id="warn",
                timestamp="2026-11-26T12:30:00.000Z",
                level="WARNING",
                prediction=None,
                probability=None,
                errors={"AGE": ["too old"]},
            ),
            make_entry(
                request_id="100%",
                timestamp="2026-11-26T09:00:00.000Z",
                level="WARNING",
                prediction=None,
                probability=None,
                endpoint="/other",
            ),
        ]
    )

    page = store.query(LogQuery(**filters))

    assert request_ids(page.entries) == expected
    assert page.total == len(expected)


def test_total_counts_filtered_entries_not_the_page(store, make_entry):
    store.append([make_entry(level="WARNING") for _ in range(5)] + [make_entry()])

    page = store.query(LogQuery(level="WARNING", limit=2))

    assert page.total == 5
    assert len(page.entries) == 2


def test_retention_keeps_only_the_newest_max_entries(store_factory, make_entry):
    store = store_factory(max_entries=5)
    store.append([make_entry(request_id=str(number)) for number in range(4)])
    store.append([make_entry(request_id=str(number)) for number in range(4, 8)])

    page = store.query(LogQuery())

    assert page.total == 5
    assert request_ids(page.entries) == ["7", "6", "5", "4", "3"]


def test_clear_returns_how_many_and_empties_the_store(store, make_entry):
    store.append([make_entry() for _ in range(3)])

    assert store.clear() == 3
    assert store.query(LogQuery()).total == 0
    assert store.clear() == 0


def test_ids_keep_increasing_after_clear(store, make_entry):
    store.append([make_entry()])
    first_id = store.query(LogQuery()).entries[0]["id"]
    store.clear()
    store.append([make_entry()])

    assert store.query(LogQuery()).entries[0]["id"] > first_id


def test_whole_entry_round_trips_including_extra_keys(store, make_entry):
    original = make_entry(extra={"nested": [1, 2.5, None]}, note="kept", factors=[])

    store.append([dict(original)])
    stored = store.query(LogQuery()).entries[0]

    assert stored.pop("id") >= 1
    assert stored == original


def test_an_entry_without_fields_still_gets_an_id(store):
    store.append([{"timestamp": "2026-11-26T11:38:51.123Z"}, {}])

    keys = [sorted(entry) for entry in store.query(LogQuery()).entries]

    assert keys == [["id", "timestamp"], ["id"]]  # no timestamp: listed as the oldest


def test_iter_entries_yields_every_match_newest_first_ignoring_limit(store, make_entry):
    store.append([make_entry(level="WARNING" if number % 3 == 0 else "INFO") for number in range(1200)])

    warnings = list(store.iter_entries(LogQuery(level="WARNING", limit=1)))

    assert len(warnings) == 400
    assert [entry["id"] for entry in warnings] == sorted((entry["id"] for entry in warnings), reverse=True)


def test_ping_passes_when_the_backend_is_up(store, make_entry):
    assert store.ping() is None
    store.append([make_entry(request_id="after-ping")])
    assert [entry["request_id"] for entry in store.query(LogQuery()).entries] == ["after-ping"]


def test_query_rejects_a_timestamp_that_is_not_iso_8601():
    with pytest.raises(ValueError):
        LogQuery(since="yesterday")


def test_unreachable_redis_raises_store_unavailable():
    from tests.processes import free_port
    from webapp.logstore import RedisLogStore

    store = RedisLogStore(f"redis://127.0.0.1:{free_port()}/0", prefix="nobody")

    with pytest.raises(StoreUnavailable, match="redis"):
        store.append([{"level": "INFO"}])
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_unwritable_sqlite_path_raises_store_unavailable(tmp_path):
    from webapp.logstore import SQLiteLogStore

    (tmp_path / "file").write_text("not a folder")
    store = SQLiteLogStore(tmp_path / "file" / "log.db")

    with pytest.raises(StoreUnavailable, match="sqlite"):
        store.ping()


def test_numpy_numbers_from_the_model_are_stored_as_plain_numbers(store, make_entry):
    import numpy as np

    store.append(
        [make_entry(prediction=np.int64(1), probability=np.float32(0.5), factors=np.array([0.1, 0.2]))]
    )

    stored = store.query(LogQuery(prediction=1, min_probability=0.5)).entries

    assert [(entry["prediction"], entry["probability"]) for entry in stored] == [(1, 0.5)]
    assert stored[0]["factors"] == [0.1, 0.2]


def test_entries_list_by_the_time_they_were_made_not_written(store, make_entry):
    # Two workers' batches: the second worker's earlier prediction is written last.
    store.append([make_entry(request_id="b-late", timestamp="2026-11-26T12:00:02.000Z")])
    store.append(
        [
            make_entry(request_id="a-early", timestamp="2026-11-26T12:00:01.000Z"),
            make_entry(request_id="a-latest", timestamp="2026-11-26T12:00:03.000Z"),
        ]
    )

    assert request_ids(store.query(LogQuery()).entries) == ["a-latest", "b-late", "a-early"]


def test_cursor_pages_through_entries_made_in_the_same_millisecond(store, make_entry):
    stamp = "2026-11-26T12:00:00.000Z"
    store.append([make_entry(request_id=f"same-{number}", timestamp=stamp) for number in range(5)])
    seen: list[str] = []

    page = store.query(LogQuery(limit=2))
    while True:
        seen += request_ids(page.entries)
        if page.next_cursor is None:
            break
        page = store.query(LogQuery(limit=2, cursor=page.next_cursor))

    assert seen == [f"same-{number}" for number in reversed(range(5))]


@pytest.mark.parametrize("cursor", ["abc", "12", "-5", "1-x", ""])
def test_a_malformed_cursor_is_refused(cursor):
    with pytest.raises(ValueError):
        LogQuery(cursor=cursor)
