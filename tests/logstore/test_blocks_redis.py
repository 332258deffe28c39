"""A batch's entries kept as blocks in Redis read exactly as the same entries stored one by one:
the same appends go to a store with blocks and to one without (blocks.MIN_BLOCK out of reach),
and every reader gives the same answer from both, before and after trims, age retention, a
clear, and through FILTER_SCRIPT."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.helpers import REPO_ROOT
from tests.logstore.test_log_blocks import batch_entries
from tests.logstore.test_logstore_reads import emptied_slots
from webapp.logstore import RedisLogStore, blocks, redis_records
from webapp.logstore.base import SUMMARY_FIELDS, LogQuery
from webapp.model_service import ModelService

#: Filters each reader is asked with: none, then each kind.
QUERIES = [
    LogQuery(),
    LogQuery(level="WARNING"),
    LogQuery(level="INFO"),
    LogQuery(endpoint="/predict"),
    LogQuery(endpoint="/predict_proba"),
    LogQuery(prediction=1),
    LogQuery(min_probability=0.5),
    LogQuery(max_probability=0.3),
    LogQuery(since="2026-11-27T10:00:02.000Z"),
    LogQuery(until="2026-11-27T10:00:05.000Z"),
    LogQuery(since="2026-11-27T10:00:02.000Z", until="2026-11-27T10:00:06.000Z", prediction=0),
    LogQuery(request_id="upper"),
    LogQuery(request_id="r-5"),
]


@pytest.fixture(scope="module")
def service() -> ModelService:
    return ModelService.load(REPO_ROOT / "model")


def batch(
    service: ModelService, count: int, second: int, request_id: str, language: str = "en"
) -> list[dict]:
    """A batch request's entries, made at that second of the day the batches are made."""
    entries = batch_entries(service, count, language, request_id)
    stamp = f"2026-11-27T10:00:{second:02d}.000Z"
    for entry in entries:  # one object for all, as for_predictions shares it: still a block
        entry["timestamp"] = stamp
    return entries


def appends(service: ModelService, make_entry: Callable[..., dict]) -> list[list[dict]]:
    """What writers hand a store: batches of varied sizes (1,000 rows as 2 x 500), single
    predictions, rejections and odd entries, some in the same append as a batch."""
    rejection = {
        "level": "WARNING",
        "inputs": {"AGE": 300},
        "prediction": None,
        "probability": None,
        "risk_level": None,
        "factors": None,
        "errors": {"AGE": ["Must be between 0 and 120."]},
        "message": "Validation failed",
    }
    thousand, other_thousand = batch(service, 1000, 3, "r-1000"), batch(service, 1000, 7, "r-1000-b")
    broken = batch(service, 40, 4, "r-40")
    broken[7] = dict(broken[7], probability=None)  # not like the others: the run is cut there
    odd = [
        make_entry(inputs={"AGE": 61.5}),
        make_entry(request_id="x" * 80 + "-UPPER"),
        make_entry(level="info"),
        make_entry(request_id=None, endpoint="/predict_proba"),
        {key: value for key, value in make_entry().items() if key != "probability"},
    ]
    return [
        [make_entry(), make_entry(), make_entry()],
        batch(service, 16, 1, "r-16"),
        [make_entry(**rejection)],
        batch(service, 500, 2, "r-500"),
        batch(service, 15, 2, "r-15"),  # too few for a block
        thousand[:500],
        thousand[500:],
        broken,
        odd,
        batch(service, 300, 5, "REQ-Upper-300", "fr"),
        [make_entry(), *batch(service, 123, 6, "r-123"), make_entry(**rejection), make_entry()],
        other_thousand[:500],
        other_thousand[500:],
        [make_entry(**rejection)],
    ]


@pytest.fixture
def make_pair(redis_server, monkeypatch) -> Iterator[Callable[[int], tuple]]:
    """Two stores of one capacity on the real Redis (their own prefixes), and how to append to
    both: with blocks, and without (MIN_BLOCK out of reach while appending)."""
    made: list[RedisLogStore] = []

    def make(max_entries: int) -> tuple:
        with_blocks, plain = (
            RedisLogStore(redis_server.url, prefix=f"test-{uuid.uuid4().hex[:12]}", max_entries=max_entries)
            for _ in range(2)
        )
        made.extend((with_blocks, plain))

        def append(entries: list[dict]) -> None:
            with_blocks.append(entries)
            with monkeypatch.context() as patch:
                patch.setattr(blocks, "MIN_BLOCK", 10**9)
                plain.append(entries)

        return with_blocks, plain, append

    yield make
    with redis_server.client() as client:
        for store in made:
            store.close()
            client.delete(*store.keys, *store.phrase_keys)


def pages(store: RedisLogStore, query: LogQuery, limit: int) -> list:
    """Every page from the first by next_cursor, to the end."""
    found = []
    page = store.query(dataclasses.replace(query, limit=limit))
    found.append(page)
    while page.next_cursor is not None:
        page = store.query(dataclasses.replace(query, limit=limit, cursor=page.next_cursor))
        found.append(page)
    return found


def views(store: RedisLogStore) -> dict[str, bytes]:
    """What every reader gives for every query, as JSON, by reader and query."""
    read = {}
    for number, query in enumerate(QUERIES):
        columns = store.summary_columns(query, 5000)
        drift = store.drift_window(query, 700)
        found = {
            "paged": pages(store, query, 700),
            "offset": store.query(dataclasses.replace(query, limit=100, offset=150)),
            "iter_entries": list(store.iter_entries(query)),
            "summary_entries": store.summary_entries(query, 5000),
            "summary_entries_capped": store.summary_entries(query, 700),
            "summary_columns": {
                field.name: getattr(columns, field.name).tolist() for field in dataclasses.fields(columns)
            },
            "drift_window": {field.name: getattr(drift, field.name) for field in dataclasses.fields(drift)},
        }
        for reader, value in found.items():
            read[f"{reader} {number}: {query}"] = orjson.dumps(
                value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATACLASS, default=vars
            )
    return read


def assert_same_views(left: RedisLogStore, right: RedisLogStore) -> None:
    """Every reader reads the same from both stores (and finds something for most queries)."""
    found, expected = views(left), views(right)
    assert [view for view in found if found[view] != expected[view]] == []
    assert sum(len(value) > 200 for value in found.values()) > len(found) / 2


def block_spans(store: RedisLogStore) -> list[tuple[int, int]]:
    """The blocks the store keeps: (first id, last id) each."""
    client = store._redis()
    spans = [
        (int(first), int(last))
        for last, first in client.zrange(store.block_index_key, 0, -1, withscores=True)
    ]
    assert sorted(int(last) for last in client.hkeys(store.blocks_key)) == [last for _, last in spans]
    return spans


def assert_blocks_hold_what_the_hashes_lack(store: RedisLogStore) -> None:
    """Every entry of the log is in the hashes or in a block, not both, and every block still
    holds a member of the log."""
    client = store._redis()
    members = {int(member) for member in client.zrange(store.order_key, 0, -1)}
    in_hashes = {int(member) for member in client.hkeys(store.entries_key)}
    assert {int(member) for member in client.hkeys(store.fields_key)} == in_hashes
    in_blocks = {entry_id for first, last in block_spans(store) for entry_id in range(first, last + 1)}
    assert not in_hashes & in_blocks
    assert members <= in_hashes | in_blocks
    for first, last in block_spans(store):
        assert members & set(range(first, last + 1)), f"block {first}-{last} has no entry left"


def assert_same_index(left: RedisLogStore, right: RedisLogStore) -> None:
    """The same members and scores in the sorted set, and the same bytes in both rings."""
    client = left._redis()
    assert client.zrange(left.order_key, 0, -1, withscores=True) == client.zrange(
        right.order_key, 0, -1, withscores=True
    )
    assert client.get(left.stats_ring_key) == client.get(right.stats_ring_key)
    assert client.get(left.id_ring_key) == client.get(right.id_ring_key)


@pytest.mark.parametrize("capacity", [10_000, 2345])  # 2,345: trims that cut through blocks
def test_a_store_with_blocks_reads_as_one_without(service, make_entry, make_pair, capacity):
    with_blocks, plain, append = make_pair(capacity)
    written = appends(service, make_entry)
    for entries in written:
        append(entries)

    spans = block_spans(with_blocks)
    assert len(spans) == 9 if capacity == 10_000 else 5 <= len(spans) < 9
    assert not block_spans(plain)
    assert_blocks_hold_what_the_hashes_lack(with_blocks)
    assert_same_index(with_blocks, plain)
    assert with_blocks._redis().zcard(with_blocks.order_key) == min(capacity, sum(map(len, written)))
    assert_same_views(with_blocks, plain)


def test_blocks_read_the_same_after_age_retention_and_a_clear(service, make_entry, make_pair):
    with_blocks, plain, append = make_pair(10_000)
    for entries in appends(service, make_entry):
        append(entries)

    # 10:00:03 holds the 1,000-row batch; 10:00:04 cuts through two retention chunks of 1,000.
    for cutoff in ("2026-11-27T10:00:02.000Z", "2026-11-27T10:00:04.000Z"):
        assert with_blocks.remove_older_than(cutoff) == plain.remove_older_than(cutoff) > 0
        assert_blocks_hold_what_the_hashes_lack(with_blocks)
        assert_same_index(with_blocks, plain)
        assert_same_views(with_blocks, plain)
    assert min(first for first, _ in block_spans(with_blocks)) > 1500  # the 500s and the 1,000 gone

    assert with_blocks.clear() == plain.clear()
    assert not block_spans(with_blocks)
    append([make_entry(), *batch(service, 200, 8, "r-200")])
    append(batch(service, 64, 9, "r-64"))
    assert len(block_spans(with_blocks)) == 2
    assert_blocks_hold_what_the_hashes_lack(with_blocks)
    assert_same_views(with_blocks, plain)


def test_blocks_read_the_same_through_the_filter_script(service, make_entry, make_pair, monkeypatch):
    with_blocks, plain, append = make_pair(2345)
    for entries in appends(service, make_entry):
        append(entries)

    for store in (with_blocks, plain):
        monkeypatch.setattr(store, "_whole_matching", lambda client, query: None)
    assert_same_views(with_blocks, plain)


def test_block_entries_without_ring_records_are_read_from_their_block(service, make_entry, make_pair):
    with_blocks, plain, append = make_pair(10_000)
    for entries in appends(service, make_entry):
        append(entries)
    client = with_blocks._redis()
    (first, last), *_ = block_spans(with_blocks)
    displaced = [b"%016d" % entry_id for entry_id in range(first, last + 1, 3)]
    displaced += client.zrange(with_blocks.order_key, 0, -1)[::97]

    for store in (with_blocks, plain):  # the slots, as of entries written before the rings
        emptied_slots(client, store.stats_ring_key, redis_records.STATS_RECORD, displaced)
        emptied_slots(client, store.id_ring_key, redis_records.ID_RECORD, displaced[::2])
    assert with_blocks._whole_matching(client, LogQuery()) is None  # read by FILTER_SCRIPT
    assert_same_views(with_blocks, plain)


def test_an_entry_trimmed_while_read_is_left_out_of_a_blocks_read(service, make_pair):
    with_blocks, _, append = make_pair(10_000)
    append(batch(service, 100, 1, "r-100"))
    client = with_blocks._redis()
    members = client.zrange(with_blocks.order_key, 0, -1)

    bodies = with_blocks._bodies(client, [members[5], b"%016d" % 999_999, members[0]])
    fields = with_blocks._fields(client, [members[5], b"%016d" % 999_999, members[0]])

    assert [body["id"] for body in bodies] == [int(members[5]), int(members[0])]
    assert fields[1] is None
    assert [fields[0]["id"], fields[2]["id"]] == [int(members[5]), int(members[0])]
    assert list(fields[0]) == list(SUMMARY_FIELDS)


def test_a_block_of_a_lost_phrase_book_is_packed_again(service, outage_server, monkeypatch):
    """A Redis that restarted empty lost the book the writer's numbers belong to: the block
    script refuses them, as the append script does, and the writer packs the block again."""
    with_blocks, plain = (
        RedisLogStore(outage_server.url, prefix=f"test-{uuid.uuid4().hex[:12]}") for _ in range(2)
    )
    calls = []
    write_block = with_blocks._append_block
    monkeypatch.setattr(
        with_blocks,
        "_append_block",
        lambda run, inputs=None: (calls.append(len(run)), write_block(run, inputs))[1],
    )
    try:
        for second in (1, 2):
            if second == 2:
                outage_server.stop()
                outage_server.start()  # no persistence: empty, the phrase book too
            entries = batch(service, 40, second, f"r-{second}")
            with_blocks.append(entries)
            with monkeypatch.context() as patch:
                patch.setattr(blocks, "MIN_BLOCK", 10**9)
                plain.append(entries)

        assert calls == [40, 40, 40]  # the second block refused once, then packed again
        assert block_spans(with_blocks) == [(1, 40)]
        assert_same_views(with_blocks, plain)
    finally:
        with_blocks.close()
        plain.close()


def test_the_cut_skips_comparing_appends_where_no_block_can_start_and_only_those(
    service, make_entry, monkeypatch
):
    """blocks.runs skips comparing entries when no MIN_BLOCK in a row share their timestamp
    object: never for an append where comparing would find a block."""
    cases = [*appends(service, make_entry), [make_entry() for _ in range(40)]]
    quick = [blocks.runs(entries) for entries in cases]
    monkeypatch.setattr(blocks, "_may_hold_block", lambda entries, min_block: True)
    assert quick == [blocks.runs(entries) for entries in cases]


def test_a_blocks_records_are_the_bytes_each_entry_would_give(service):
    run = batch(service, 50, 1, "r-50")
    ms = 1_795_600_001_000
    each = b"".join(
        redis_records.APPEND_RECORD.pack(
            ms,
            0,
            *redis_records.stats_values(ms, e["level"], e["prediction"], e["probability"], e["latency_ms"]),
            *redis_records.id_record(e["request_id"]),
        )
        for e in run
    )
    assert redis_records.block_records(run, ms) == each
