"""The Redis log's rings (packed stats and request ids, one string each): written with every entry,
emptied with every entry removed, grown with the capacity, filled from the previous version's
hashes, and never trusted for an entry whose slot another took."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from webapp.logstore import LogQuery, RedisLogStore, redis_reads, redis_records
from webapp.logstore.base import (
    Position,
    SummaryColumns,
    indexed_timestamp,
    json_bytes,
    summary_fields,
    timestamp_ms,
)

QUERIES = [
    LogQuery(),
    LogQuery(level="INFO", min_probability=0.5),
    LogQuery(prediction=1, limit=3),
    LogQuery(request_id="REQ-0001"),
]


def old_request_id(entry: dict) -> bytes:
    """An entry's request id as the previous version's hash kept it (and the migration reads
    it): a NUL byte for none, else a byte 1 and the id as UTF-8."""
    request_id = entry.get("request_id")
    return b"\x00" if request_id is None else b"\x01" + str(request_id).encode("utf-8", "surrogatepass")


@pytest.fixture
def make_store(redis_server, redis_prefix):
    made: list[RedisLogStore] = []

    def make(max_entries: int = 10_000) -> RedisLogStore:
        store = RedisLogStore(redis_server.url, prefix=redis_prefix, max_entries=max_entries)
        made.append(store)
        return store

    yield make
    with redis_server.client() as client:
        client.delete(*made[0].keys)
    for store in made:
        store.close()


def ring_ids(client, key: str, record: np.dtype) -> list[int]:
    ids = np.frombuffer(client.get(key), dtype=record)["id"]
    return sorted(ids[ids > 0].tolist())


def log_ids(client, store: RedisLogStore) -> list[int]:
    return sorted(int(member) for member in client.zrange(store.order_key, 0, -1))


def views(store: RedisLogStore) -> list:
    """What the pages read for each query: the page (ids, total, cursor) and the summary."""
    result = []
    for query in QUERIES:
        page = store.query(query)
        columns = store.summary_columns(query, 1000)
        result.append(
            (
                [entry["id"] for entry in page.entries],
                page.total,
                page.next_cursor,
                [getattr(columns, name).tolist() for name in ("seconds", "probability", "rejected")],
            )
        )
    return result


def expected_views(store: RedisLogStore) -> list:
    """views() computed from the whole entries, as LogQuery.matches filters them."""
    every = list(store.iter_entries(LogQuery()))
    result = []
    for query in QUERIES:
        matching = [entry for entry in every if query.matches(entry)]
        columns = SummaryColumns.from_entries(matching)
        more = len(matching) > query.limit
        result.append(
            (
                [entry["id"] for entry in matching[: query.limit]],
                len(matching),
                str(Position.of(matching[query.limit - 1])) if more else None,
                [getattr(columns, name).tolist() for name in ("seconds", "probability", "rejected")],
            )
        )
    return result


def test_every_entry_written_has_its_records_and_evicted_ones_lose_theirs(make_store, make_entry):
    store = make_store(max_entries=5)
    for batch in range(3):
        store.append([make_entry(request_id=f"req-{batch}-{n}") for n in range(4)])
    client = store._redis()

    assert len(log_ids(client, store)) == 5
    assert ring_ids(client, store.stats_ring_key, redis_records.STATS_RECORD) == log_ids(client, store)
    assert ring_ids(client, store.id_ring_key, redis_records.ID_RECORD) == log_ids(client, store)
    assert store.clear() == 5
    assert not client.exists(*store.keys[1:])


def test_the_pages_read_the_whole_rings_with_the_same_result(make_store, make_entry, monkeypatch):
    store = make_store()
    store.append([make_entry(probability=n / 20, prediction=n % 2) for n in range(20)])
    expected = expected_views(store)
    monkeypatch.setattr(store, "_scanned_matching", None)  # fails if the rings are not read whole

    assert views(store) == expected


def test_a_log_of_the_previous_version_is_moved_into_the_rings_when_a_process_connects(
    make_store, make_entry
):
    store = make_store()
    entries = [make_entry(probability=n / 20, prediction=n % 2) for n in range(20)]
    store.append(entries)
    expected = views(store)
    client = store._redis()
    # The previous layout: one hash of packed stats and one of packed request ids, no rings.
    members = client.zrange(store.order_key, 0, -1)
    records = np.frombuffer(client.get(store.stats_ring_key), dtype=redis_records.STATS_RECORD)
    stats = {b"%016d" % record["id"]: record["stats"].tobytes() for record in records if record["id"]}
    client.hset(store.old_stats_key, mapping=stats)
    client.hset(
        store.old_request_ids_key,
        mapping={member: old_request_id(entry) for member, entry in zip(members, entries, strict=True)},
    )
    client.hset(store.old_stats_key, b"%016d" % 999, stats[members[0]])  # trimmed meantime: not moved
    client.delete(store.stats_ring_key, store.id_ring_key)

    reopened = make_store()
    client = reopened._redis()

    assert client.hkeys(store.old_stats_key) == [b"%016d" % 999]
    assert not client.exists(store.old_request_ids_key)
    assert ring_ids(client, store.stats_ring_key, redis_records.STATS_RECORD) == log_ids(client, store)
    assert ring_ids(client, store.id_ring_key, redis_records.ID_RECORD) == log_ids(client, store)
    assert reopened._whole_matching(client, LogQuery(request_id="req")) is not None
    assert views(reopened) == expected


def test_an_entry_whose_slot_a_later_entry_took_is_read_from_its_fields(make_store, make_entry):
    store = make_store(max_entries=8)  # 1024 slots
    store.append([make_entry(timestamp="2100-01-01T00:00:00.000Z", request_id="REQ-00017-future")])
    for start in range(0, 1030, 200):
        store.append([make_entry(probability=(start + n) % 7 / 7) for n in range(min(200, 1030 - start))])
    client = store._redis()
    assert 1 in log_ids(client, store)  # the future entry stays, its slot taken by entry 1025
    assert 1 not in ring_ids(client, store.stats_ring_key, redis_records.STATS_RECORD)

    assert store._whole_matching(client, LogQuery()) is None
    assert views(store) == expected_views(store)


def test_a_larger_capacity_grows_the_rings_and_keeps_every_record(make_store, make_entry):
    small = make_store(max_entries=10)
    small.append([make_entry() for _ in range(1500)])  # ids 1491-1500 kept
    large = make_store(max_entries=3000)
    large.append([make_entry()])
    client = large._redis()

    assert client.strlen(large.stats_ring_key) == 4096 * redis_records.STATS_RECORD.itemsize
    assert ring_ids(client, large.stats_ring_key, redis_records.STATS_RECORD) == log_ids(client, large)
    assert ring_ids(client, large.id_ring_key, redis_records.ID_RECORD) == log_ids(client, large)
    assert views(large) == expected_views(large)


@pytest.mark.parametrize(
    "request_id", ["x" * 70 + "-REQ-00017", "req-\u00e9t\u00e9-00017", "req-\x00-00017", ""]
)
def test_request_ids_the_ring_cannot_hold_are_searched_in_the_fields(make_store, make_entry, request_id):
    store = make_store()
    store.append([make_entry(), make_entry(request_id=request_id), make_entry(request_id=None)])
    client = store._redis()
    query = LogQuery(request_id="req-0001" if request_id == "" else "-00017")
    expected = [entry["id"] for entry in store.iter_entries(LogQuery()) if query.matches(entry)]

    assert store._whole_matching(client, query) is not None
    assert [entry["id"] for entry in store.query(query).entries] == expected
    assert store.query(LogQuery(request_id="")).total == 2  # every entry with a request id


def test_a_young_log_reads_only_the_slots_its_ids_take(make_store, make_entry):
    store = make_store(max_entries=100_000)  # 131,072 slots
    store.append([make_entry(probability=n / 50) for n in range(50)])
    records, id_ring = store._read_rings(store._redis(), search=True)

    assert len(records) == 50 + 2 * redis_reads.RING_MARGIN
    assert len(id_ring) == len(records) * redis_records.ID_RECORD.itemsize
    assert views(store) == expected_views(store)


def test_an_entry_outside_the_slots_read_sends_the_read_to_the_whole_rings(
    make_store, make_entry, monkeypatch
):
    monkeypatch.setattr(redis_reads, "RING_MARGIN", 8)
    store = make_store(max_entries=100)  # 1,024 slots
    store.append([make_entry() for _ in range(300)])
    store.append([make_entry(timestamp="2100-01-01T00:00:00.000Z", request_id="REQ-00017-future")])  # id 301
    store.append([make_entry(probability=n % 9 / 9) for n in range(400)])  # 100 kept: 301 and 603-701
    client = store._redis()
    assert 301 in log_ids(client, store)
    assert 301 in ring_ids(client, store.stats_ring_key, redis_records.STATS_RECORD)

    records, _ = store._read_rings(client, search=False)
    assert len(records) == 1024  # slots 594-709 lacked entry 301
    assert views(store) == expected_views(store)


ODD_ENTRIES = [
    {"timestamp": None},
    {"timestamp": "2026-11-26 11:00:00+01:00"},
    {"timestamp": "1969-12-31T23:59:59.500Z"},
    {"timestamp": "1970-01-01T00:00:00.123Z"},
    {"timestamp": "2026-13-45T00:00:00.000Z"},
    {"timestamp": "2026-11-26T11:00:00.\u0661\u0662\u0663Z"},
    {"request_id": None},
    {"request_id": ""},
    {"request_id": "x" * 64},
    {"request_id": "x" * 65},
    {"request_id": "r\u00e9q"},
    {"request_id": "a\x00b"},
    {"request_id": 5},
    {"prediction": np.int64(1), "probability": np.float64(0.25)},
    {"prediction": True, "probability": float("nan"), "latency_ms": "12"},
    {"level": "ERROR", "factors": None, "message": "bad input"},
    {"level": None},
    {"id": 99, "drift": 5},
]


def id_ring_record(request_id) -> tuple[int, bytes]:
    """The request-id ring's length and text, as ID_RECORD defines them."""
    if request_id is None:
        return 0, b""
    text = str(request_id).encode("utf-8", "surrogatepass")
    if len(text) <= 64 and all(0 < byte < 128 for byte in text):
        return len(text) + 1, text
    return redis_records.UNKNOWN_ID, b""


def test_an_append_writes_each_entrys_score_records_and_fields_as_the_readers_define_them(
    make_store, make_entry
):
    store = make_store()
    entries = [make_entry(**overrides) for overrides in ODD_ENTRIES]
    entries += [{"level": "INFO"}, {}, make_entry()]
    store.append(entries)
    client = store._redis()
    stats = np.frombuffer(client.get(store.stats_ring_key), dtype=redis_records.STATS_RECORD)
    ids = np.frombuffer(client.get(store.id_ring_key), dtype=redis_records.ID_RECORD)

    for entry_id, entry in enumerate(entries, start=1):
        member = b"%016d" % entry_id
        ms = timestamp_ms(indexed_timestamp(entry))
        fields = {key: value for key, value in summary_fields(entry).items() if key != "id"}
        assert client.zscore(store.order_key, member) == ms
        assert stats[entry_id]["id"] == ids[entry_id]["id"] == entry_id
        assert stats[entry_id]["stats"].tobytes() == redis_records.packed_stats(entry, ms)
        assert (int(ids[entry_id]["length"]), ids[entry_id]["text"]) == id_ring_record(
            entry.get("request_id")
        )
        assert orjson.loads(client.hget(store.fields_key, member)) == orjson.loads(
            json_bytes({"id": entry_id, **fields})
        )
