"""A batch's entries kept as one block read back exactly as each entry's own body would."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.helpers import REPO_ROOT, patient
from webapp.features import FEATURES
from webapp.logstore import blocks, entry
from webapp.logstore.base import drift_codes, entry_json
from webapp.logstore.phrases import Phrases
from webapp.model_service import ModelService


@pytest.fixture(scope="module")
def service() -> ModelService:
    return ModelService.load(REPO_ROOT / "model")


def varied_records(count: int, seed: int = 16) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        patient(AGE=int(rng.integers(20, 90)), **{name: int(rng.integers(0, 2)) for name in FEATURES[1:]})
        for _ in range(count)
    ]


def batch_entries(
    service: ModelService, count: int, language: str = "en", request_id: str = "r1"
) -> list[dict]:
    """The entries the predict view logs for a batch: entry.for_predictions of the batch path."""
    records = varied_records(count)
    matrix = np.array([[record[name] for name in FEATURES] for record in records])
    return entry.for_predictions(
        service.predict_many(matrix, language),
        records,
        endpoint="/predict",
        request_id=request_id,
        model_version=service.version,
        latency_ms=12.5,
        timestamp="2026-11-27T10:00:00.000Z",
    )


class Book:
    """A phrase table in memory, as a store keeps one: numbers handed out once, never reused."""

    def __init__(self) -> None:
        self.texts: dict[bytes, int] = {}

    def store(self, texts: list[bytes]) -> dict[bytes, int]:
        for text in texts:
            self.texts.setdefault(text, len(self.texts) + 1)
        return {text: self.texts[text] for text in texts}

    def load(self, numbers: list[int]) -> dict[int, bytes]:
        by_number = {number: text for text, number in self.texts.items()}
        return {number: by_number[number] for number in numbers}


def read_alone(entries: list[dict], first_id: int) -> dict[int, dict]:
    """Each entry as a store that kept its JSON whole reads it: its id first."""
    return {
        first_id + i: {"id": first_id + i, **orjson.loads(entry_json(each))} for i, each in enumerate(entries)
    }


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_block_reads_back_every_entry_exactly_as_its_own_body(service, language):
    entries = batch_entries(service, 300, language)
    book = Book()
    encoded = blocks.encode(entries, Phrases(), book.store)
    assert encoded is not None
    body, drift = encoded
    assert drift == drift_codes(entries)

    ids = list(range(41, 341))
    # Read by another process: a phrase book of its own, loaded from the store's table.
    read = blocks.decode(body, 41, ids, Phrases(), book.load)

    expected = read_alone(entries, 41)
    assert list(read) == ids
    assert orjson.dumps(list(read.values())) == orjson.dumps(list(expected.values()))  # key order too


def test_a_block_gives_only_the_ids_it_holds_and_fresh_objects(service):
    entries = batch_entries(service, 20)
    book = Book()
    phrases = Phrases()
    body, _ = blocks.encode(entries, phrases, book.store)

    read = blocks.decode(body, 100, [99, 100, 105, 119, 120], phrases, book.load)

    assert list(read) == [100, 105, 119]
    read[100]["factors"][0]["label"] = "changed"
    read[100]["inputs"]["AGE"] = -1
    again = blocks.decode(body, 100, [100], phrases, book.load)
    assert again[100] == read_alone(entries, 100)[100]


def test_a_block_is_much_smaller_than_its_entries_bodies(service):
    entries = batch_entries(service, 500)
    body, _ = blocks.encode(entries, Phrases(), Book().store)
    packed = Phrases().pack(entries, Book().store)
    assert len(body) * 3 < sum(map(len, packed))


def test_a_batch_is_one_run(service):
    entries = batch_entries(service, 100)
    assert tuple(entries[0]) == entry.PREDICTION_FIELDS == blocks.KEYS
    assert blocks.runs(entries) == [(0, 100, True)]


def test_runs_keep_the_order_and_leave_short_or_odd_runs_entry_by_entry(service):
    first = batch_entries(service, 40, request_id="a")
    second = batch_entries(service, 30, request_id="b")
    short = batch_entries(service, blocks.MIN_BLOCK - 1, request_id="c")
    rejected = {**first[0], "level": "WARNING"}
    entries = [rejected, *first, *short, *second, rejected]

    cuts = blocks.runs(entries)

    assert cuts == [
        (0, 1, False),
        (1, 41, True),
        (41, 41 + len(short), False),
        (41 + len(short), 86, True),
        (86, 87, False),
    ]
    assert [index for start, stop, _ in cuts for index in range(start, stop)] == list(range(len(entries)))


def odd(entries: list[dict], index: int, change) -> list[dict]:
    changed = [dict(each) for each in entries]
    changed[index] = change(dict(changed[index]))
    return changed


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda e: {**e, "inputs": dict(reversed(e["inputs"].items()))}, id="other key order"),
        pytest.param(lambda e: {**e, "inputs": {1: 1, **e["inputs"]}}, id="an input key not a str"),
        pytest.param(
            lambda e: {**e, "request_id": "".join(["r", "1"])}, id="an equal request id, not the same object"
        ),
        pytest.param(
            lambda e: {**e, "batch_size": float(e["batch_size"])}, id="an equal number of another type"
        ),
        pytest.param(lambda e: {**e, "extra": 1}, id="another key"),
        pytest.param(lambda e: {"id": 7, **e}, id="an id already"),
        pytest.param(lambda e: {**e, "factors": tuple(e["factors"])}, id="factors not a list"),
        pytest.param(lambda e: {**e, "message": None}, id="no message"),
    ],
)
def test_an_entry_that_would_not_read_back_the_same_ends_the_run(service, change):
    entries = odd(batch_entries(service, 60), 30, change)
    assert blocks.runs(entries) == [(0, 30, True), (30, 31, False), (31, 60, True)]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda e: {**e, "inputs": {**e["inputs"], "AGE": 61.0}}, id="a float input"),
        pytest.param(lambda e: {**e, "inputs": {**e["inputs"], "SMOKING": True}}, id="a bool input"),
        pytest.param(lambda e: {**e, "inputs": {**e["inputs"], "AGE": "61"}}, id="a text input"),
        pytest.param(lambda e: {**e, "inputs": {**e["inputs"], "AGE": float("nan")}}, id="a NaN input"),
        pytest.param(lambda e: {**e, "prediction": np.int64(1)}, id="a NumPy prediction"),
        pytest.param(lambda e: {**e, "probability": np.float32(0.25)}, id="a NumPy probability"),
        pytest.param(lambda e: {**e, "warnings": ("a", "tuple")}, id="warnings as a tuple"),
    ],
)
def test_odd_values_stay_in_the_block_and_read_back_as_their_own_body(service, change):
    entries = odd(batch_entries(service, 60), 30, change)
    assert blocks.runs(entries) == [(0, 60, True)]
    book = Book()
    body, drift = blocks.encode(entries, Phrases(), book.store)

    read = blocks.decode(body, 1, range(1, 61), Phrases(), book.load)

    assert orjson.dumps(list(read.values())) == orjson.dumps(list(read_alone(entries, 1).values()))
    assert drift == drift_codes(entries)


def test_a_run_sharing_a_nan_latency_reads_back_as_each_body_alone(service):
    nan = float("nan")
    entries = [{**each, "latency_ms": nan} for each in batch_entries(service, 40)]
    assert blocks.runs(entries) == [(0, 40, True)]
    book = Book()
    body, _ = blocks.encode(entries, Phrases(), book.store)
    read = blocks.decode(body, 1, range(1, 41), Phrases(), book.load)
    assert orjson.dumps(list(read.values())) == orjson.dumps(list(read_alone(entries, 1).values()))


def test_a_run_whose_wording_is_not_packable_is_not_encoded(service):
    entries = [{**each, "message": None} for each in batch_entries(service, 20)]
    assert blocks.encode(entries, Phrases(), Book().store) is None


def test_an_append_of_prediction_entries_only_is_cut_as_entry_by_entry(service):
    """Entries of the prediction fields only are cut a column at a time; the cut must be the one
    the entry-by-entry scan (taken when another kind of entry is among them) gives."""
    single = batch_entries(service, 1, request_id="s")
    a = batch_entries(service, 40, request_id="a")
    b = batch_entries(service, 30, request_id="b")
    short = batch_entries(service, blocks.MIN_BLOCK - 1, request_id="c")
    uniform = [*single, *a, *short, *b, *single, *odd(a, 10, lambda e: {**e, "batch_size": 40.0})[:20]]
    rejected = {"timestamp": "2026-11-27T10:00:00.000Z", "level": "WARNING", "message": "Rejected"}
    fewer_fields = {"timestamp": "2026-11-27T10:00:00.000Z", "level": "INFO", "inputs": {"AGE": 1}}

    cut = blocks.runs(uniform)
    scanned = blocks.runs([*uniform, rejected, fewer_fields])

    assert (
        [each for each in cut if each[2]]
        == [each for each in scanned if each[2]]
        == [(1, 41, True), (56, 86, True)]
    )
    assert [index for start, stop, _ in cut for index in range(start, stop)] == list(range(len(uniform)))


def test_known_runs_are_taken_as_blocks_and_the_entries_between_are_compared(service):
    a = batch_entries(service, 40, request_id="a")
    b = batch_entries(service, 30, request_id="b")
    single = batch_entries(service, 1, request_id="s")
    entries = [*single, *a, *single, *b, *single]

    # b is found by comparing; a is known (even split in two spans, the second too short to count).
    assert blocks.runs(entries, known=[(1, 41)]) == [
        (0, 1, False),
        (1, 41, True),
        (41, 42, False),
        (42, 72, True),
        (72, 73, False),
    ]
    assert blocks.runs(entries, known=[(1, 31), (31, 41)]) == blocks.runs(entries, known=[(1, 31)])
    assert blocks.runs(entries, known=[(1, 31)])[1] == (1, 31, True)
    assert blocks.runs(entries, known=[(0, 3)]) == blocks.runs(entries)  # shorter than MIN_BLOCK: compared


def matrix_of(entries: list[dict]) -> np.ndarray:
    """The entries' inputs as the plain-batch check's matrix (PlainBatch.matrix)."""
    return np.array([[each["inputs"][name] for name in FEATURES] for each in entries], dtype=np.int64)


def test_a_block_from_the_inputs_matrix_is_the_block_from_the_entries(service):
    entries = batch_entries(service, 200)
    book = Book()
    phrases = Phrases()
    assert blocks.encode(entries, phrases, book.store, matrix_of(entries)) == blocks.encode(
        entries, phrases, book.store
    )


class HintedStore:
    """A real SQLite store that notes the runs the writer tells it of."""

    def __init__(self, path) -> None:
        from webapp.logstore import SQLiteLogStore

        self.store = SQLiteLogStore(path, max_entries=100_000)
        self.told: list[list[tuple[int, int]]] = []

    def append(self, entries, runs=()):
        assert all(len(inputs) == stop - start for start, stop, inputs in runs)
        self.told.append([(start, stop) for start, stop, _ in runs])
        self.store.append(entries, runs)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.mark.parametrize("size", [600, 1000, 40])
def test_the_writer_tells_the_store_of_a_batch_recorded_as_one_run(service, tmp_path, size):
    from webapp.logstore import LogQuery, PredictionLog

    store = HintedStore(tmp_path / "log.sqlite3")
    log = PredictionLog(store, linger=0)
    entries = batch_entries(service, size)
    expected = read_alone(entries, 1)
    single = batch_entries(service, 1, request_id="s")

    log.record(single, owned=True)
    log.record(entries, owned=True, inputs=matrix_of(entries))
    assert log.flush(10)

    told = [span for spans in store.told for span in spans]
    assert sum(stop - start for start, stop in told) == size  # every entry of the run, cut by MAX_BATCH
    read = {each["id"]: each for each in log.iter_entries(LogQuery()) if each["request_id"] == "r1"}
    assert orjson.dumps([read[i + 2] for i in range(size)]) == orjson.dumps(
        [{**expected[i + 1], "id": i + 2} for i in range(size)]
    )
    log.close()


def test_a_run_whose_first_entries_the_full_buffer_dropped_is_compared_again(service, tmp_path):
    from webapp.logstore import LogQuery, PredictionLog

    store = HintedStore(tmp_path / "log.sqlite3")
    log = PredictionLog(store, buffer_size=300, linger=0)
    log._start_writer = lambda: None  # nothing written until the writer starts below
    entries = batch_entries(service, 400)
    log.record(entries, owned=True, inputs=matrix_of(entries))  # the buffer keeps the newest 300
    assert log.status()["dropped"] == 100 and log._run_starts == {}
    PredictionLog._start_writer(log)
    assert log.flush(10)

    assert store.told == [[]]  # nothing known: the store compared the entries
    assert len(list(log.iter_entries(LogQuery()))) == 300
    log.close()
