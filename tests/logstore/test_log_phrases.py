"""The stores keep a prediction's wording once, as phrases: what is read back is what was given."""

from __future__ import annotations

import itertools
import pathlib
import sqlite3

import numpy as np
import orjson
import pytest

from tests.helpers import patient
from tests.logstore.test_logstore_reads import write_old_sqlite_file
from webapp.features import FEATURES
from webapp.logstore import LogQuery, LogStore, RedisLogStore, SQLiteLogStore, phrases
from webapp.logstore.base import entry_json, json_bytes, json_each


def as_written(entries: list[dict], first_id: int = 1) -> list[dict]:
    """The entries as a store that kept their JSON whole gives them back, newest first."""
    return [
        {"id": entry_id, **orjson.loads(entry_json(entry))}
        for entry_id, entry in zip(itertools.count(first_id), entries)
    ][::-1]


def same(read: list[dict], expected: list[dict]) -> None:
    """Equal, key order included (what the JSON answers are made of)."""
    assert orjson.dumps(read) == orjson.dumps(expected)


def rows(path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT id, packed, length(body) FROM prediction_log ORDER BY id"
        ).fetchall()
    connection.close()
    return found


def phrase_count(store: LogStore) -> int:
    if isinstance(store, RedisLogStore):
        return store._redis().hlen(store.phrase_keys[0]) - 1  # less the book's token
    with sqlite3.connect(store.path) as connection:
        (count,) = connection.execute("SELECT count(*) FROM log_phrase").fetchone()
    connection.close()
    return count


def packed(store: LogStore) -> list[bool]:
    """Whether each stored entry, by id, keeps its wording as phrase numbers (in its own body, or
    in its block's)."""
    if isinstance(store, RedisLogStore):
        # A batch's entries are in a block, whose wording is always phrase numbers (blocks.py).
        client = store._redis()
        bodies = client.hgetall(store.entries_key)
        in_blocks = {
            entry_id
            for last, first_id in client.zrange(store.block_index_key, 0, -1, withscores=True)
            for entry_id in range(int(first_id), int(last) + 1)
        }
        members = sorted(client.zrange(store.order_key, 0, -1))
        return [
            bodies[member].startswith(b"[") if member in bodies else int(member) in in_blocks
            for member in members
        ]
    # A block's entries have no row; its wording is always phrase numbers.
    with sqlite3.connect(store.path) as connection:
        spans = connection.execute("SELECT oldest_id, last_id FROM log_run").fetchall()
    connection.close()
    in_runs = {entry_id: True for first, last in spans for entry_id in range(first, last + 1)}
    in_rows = {row[0]: row[1] == 1 for row in rows(store.path)}
    return [flag for _, flag in sorted({**in_rows, **in_runs}.items())]


def records(count: int) -> list[dict]:
    """Patients with varied answers, so that the batch has varied wording."""
    rng = np.random.default_rng(16)
    return [
        patient(AGE=int(rng.integers(20, 90)), **{name: int(rng.integers(0, 2)) for name in FEATURES[1:]})
        for _ in range(count)
    ]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_api_logs_gives_back_a_batch_exactly_as_it_was_logged(make_app, backend, language):
    app = make_app(backend=backend)
    store = app.extensions["prediction_log"].store
    given: list[dict] = []
    append = store.append
    store.append = lambda entries, **hints: (
        given.extend(dict(entry) for entry in entries),
        append(entries, **hints),
    )
    client = app.test_client()
    headers = {"Accept-Language": language}

    assert client.post("/api/predict", json={"records": records(300)}, headers=headers).status_code == 200
    assert client.post("/predict", json=patient(AGE=300), headers=headers).status_code == 422
    assert client.post("/predict", json=patient(AGE=61), headers=headers).status_code == 200
    page = client.get("/api/logs", query_string={"limit": 1000}).get_json()

    assert page["total"] == len(given) == 302
    same(page["logs"], as_written(given))
    assert packed(store) == [True] * 300 + [False, True]  # the rejected request is kept whole


def test_every_read_of_a_fresh_store_puts_the_wording_back(store_factory, make_entry):
    entries = [
        make_entry(
            message=f"Score {number % 7}%. You reported a cough. Please see a doctor.",
            factors=[{"feature": "AGE", "label": f"Age {number % 5}", "value": float(number % 5)}],
        )
        for number in range(40)
    ]
    writer = store_factory()
    writer.append(entries[:25])
    writer.append(entries[25:])
    reader = store_factory()  # has learned no phrase yet
    expected = as_written(entries)
    same(list(reader.iter_entries(LogQuery())), expected)
    same(reader.query(LogQuery(limit=10, offset=5)).entries, expected[5:15])
    same(
        reader.query(LogQuery(limit=10, level="INFO", request_id="req-0001")).entries,
        [entry for entry in expected if "req-0001" in entry["request_id"]],
    )
    assert phrase_count(writer) == 5 + 7 + 2  # each factor and sentence once


@pytest.mark.parametrize(
    "message",
    [
        "",
        ". ",
        ". . .",
        "No separator at all",
        "Ends with one. ",
        'Two  spaces.  And. .. odd. \u2028 line separator. Accents: é, ü. 😀. "quoted". \\back',
    ],
)
def test_any_message_text_is_given_back_exactly(store_factory, make_entry, message):
    store = store_factory()
    store.append([make_entry(message=message)])
    (entry,) = store_factory().query(LogQuery()).entries
    assert entry["message"] == message
    assert packed(store) == [True]


def test_factors_of_any_json_shape_and_numpy_values_read_as_their_json(store_factory, make_entry):
    entries = [
        make_entry(
            factors=[{"value": np.float64(0.1), "contribution": np.float32(1.5), "k": [1, None]}, "text", 3]
        ),
        make_entry(factors=[]),
    ]
    store_factory().append(entries)
    same(store_factory().query(LogQuery()).entries, as_written(entries))


@pytest.mark.parametrize(
    "overrides",
    [
        {"level": "WARNING", "message": "Rejected with 400: whatever the client sent. Quoted."},
        {"message": None},
        {"message": 12},
        {"factors": None},
        {"factors": {"not": "a list"}},
        {"level": "info"},
    ],
)
def test_entries_other_than_the_services_predictions_are_kept_whole(store_factory, make_entry, overrides):
    entries = [make_entry(**overrides), make_entry()]
    store = store_factory()
    store.append(entries)
    same(store_factory().query(LogQuery()).entries, as_written(entries))
    assert packed(store) == [False, True]


@pytest.mark.parametrize("messages_kept", [phrases.MESSAGES_KEPT, 2])
def test_a_writer_packs_shared_factors_and_repeated_messages_as_it_packs_new_ones(
    store_factory, make_entry, monkeypatch, messages_kept
):
    """A batch's factor objects and message texts repeat (the model service builds each once):
    packed from what the writer kept of them, they read back as given, also once it has had to
    forget the messages it kept."""
    monkeypatch.setattr(phrases, "MESSAGES_KEPT", messages_kept)
    shared = [{"feature": "AGE", "value": 61.0}, {"feature": "SMOKING", "value": 1.0}]
    messages = [f"Score {number}%. Please see a doctor." for number in range(4)]
    batches = [
        [
            make_entry(factors=[shared[number % 2], shared[0]], message=messages[number % 4])
            for number in range(12)
        ]
        for _ in range(3)
    ]
    batches[1][3]["id"] = 999  # an entry read back and given again: stored without it
    batches[2][5]["factors"] = [shared[1], {"feature": "new", "value": 2.0}]
    batches[2][6]["message"] = messages[1] + " New sentence"
    store = store_factory()
    for batch in batches:
        store.append(batch)

    same(store_factory().query(LogQuery(limit=100)).entries, as_written([e for b in batches for e in b]))
    assert packed(store) == [True] * 36


def test_two_writers_share_the_phrases_of_one_log(store_factory, make_entry):
    first, second = store_factory(), store_factory()
    entries = [make_entry(message=f"Same. Words. Number {number % 3}") for number in range(30)]
    first.append(entries[:10])
    second.append(entries[10:20])  # knows no number yet: finds those the first one stored
    first.append(entries[20:])
    same(store_factory().query(LogQuery(limit=30)).entries, as_written(entries))
    assert phrase_count(first) == 1 + 2 + 3  # one factor, two shared sentences, three last ones


def test_clearing_the_log_keeps_the_phrases_every_process_refers_to(store_factory, make_entry):
    first, second = store_factory(), store_factory()
    first.append([make_entry(message="Kept. Words")])
    assert first.clear() == 1
    second.append([make_entry(message="Kept. Words")])
    entries = [make_entry(message="Kept. Words")]
    first.append(entries)  # the numbers it knows are still the log's
    same(store_factory().query(LogQuery(limit=1)).entries, as_written(entries, first_id=3))
    assert phrase_count(first) == 3


def test_a_file_written_before_phrases_is_read_as_it_was_and_packs_new_entries(tmp_path, make_entry):
    path = tmp_path / "old.sqlite3"
    old = [make_entry(message="Old. Entry") for _ in range(5)]
    write_old_sqlite_file(path, old)
    new = [make_entry(message="New. Entry") for _ in range(3)]
    store = SQLiteLogStore(path)
    try:
        store.append(new)
        same(list(store.iter_entries(LogQuery())), as_written(old + new))
    finally:
        store.close()
    assert [row[1] for row in rows(path)] == [None] * 5 + [1] * 3


def test_a_new_file_at_the_same_path_learns_its_own_phrases(sqlite_path, make_entry):
    """Numbers are the file's: a store closed and opened on another file does not reuse them."""
    store = SQLiteLogStore(sqlite_path)
    try:
        store.append([make_entry(message="First. File"), make_entry(message="Second. File")])
        store.close()
        for suffix in ("", "-wal", "-shm"):
            pathlib.Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        entries = [make_entry(message="Second. File")]
        store.append(entries)
        same(store.query(LogQuery()).entries, as_written(entries))
    finally:
        store.close()
    assert phrase_count(store) == 3


def test_a_redis_that_restarted_empty_gets_a_new_phrase_book(outage_server, redis_prefix, make_entry):
    """Numbers of the lost book are neither written nor read: each process learns the new one."""
    writer = RedisLogStore(outage_server.url, prefix=redis_prefix)
    reader = RedisLogStore(outage_server.url, prefix=redis_prefix)
    try:
        writer.append([make_entry(message="Lost. Book"), make_entry(message="Other. Words")])
        assert len(reader.query(LogQuery()).entries) == 2  # the reader learns those numbers
        outage_server.stop()
        outage_server.start()  # no persistence: empty
        entries = [make_entry(message="Lost. Book"), make_entry(message="Other. Words. New")]
        writer.append(entries[:1])  # every number known, of the lost book: refused, packed again
        writer.append(entries[1:])
        same(reader.query(LogQuery()).entries, as_written(entries, first_id=1))
        assert phrase_count(writer) == 1 + 5
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize(
    "values",
    [
        [],
        [{"one": 1}],
        [{"text": "a\nb"}, {"text": '},\n,{"'}, "},\n,{", ["\n", ",\n,"], None],
        [{"value": np.float64(0.5), "array": np.arange(3)}, {"when": object()}, 1.5],
        [{"a": 1}, {2: "a key that is not a str"}],
    ],
)
def test_json_each_writes_each_value_as_json_bytes_does(values):
    assert json_each(values) == [json_bytes(value) for value in values]
