"""Reading uploaded CSVs: header spellings, value codings, bad rows by line number."""

from __future__ import annotations

import pytest

from tests.processes import free_port
from webapp import features
from webapp.proxy import APIProxyClient
from webapp.ui import batch
from webapp.ui.handlers import Handlers
from webapp.ui.settings import UISettings

SURVEY_HEADER = (
    "GENDER,AGE,SMOKING,YELLOW_FINGERS,ANXIETY,PEER_PRESSURE,CHRONIC DISEASE,FATIGUE ,"
    "ALLERGY ,WHEEZING,ALCOHOL CONSUMING,COUGHING,SHORTNESS OF BREATH,"
    "SWALLOWING DIFFICULTY,CHEST PAIN,LUNG_CANCER"
)
TIDY_HEADER = ",".join(name.lower().replace(" ", "_") for name in features.FEATURES)


def test_the_published_survey_csv_is_read_in_its_own_coding():
    text = f"{SURVEY_HEADER}\nM,69,1,2,2,1,1,2,1,2,2,2,2,2,2,YES\nF,59,1,1,1,1,1,1,1,1,1,1,1,1,1,NO\n"
    records, errors, notes = batch.read_csv(text, max_rows=10)
    assert errors == []
    assert records[0] == (
        2,
        {
            **{name: 0 for name in features.FEATURES},
            "AGE": 69,
            "GENDER": 1,
            "YELLOW_FINGERS": 1,
            "ANXIETY": 1,
            "FATIGUE": 1,
            "WHEEZING": 1,
            "ALCOHOL CONSUMING": 1,
            "COUGHING": 1,
            "SHORTNESS OF BREATH": 1,
            "SWALLOWING DIFFICULTY": 1,
            "CHEST PAIN": 1,
        },
    )
    assert records[1][1]["GENDER"] == 0 and records[1][1]["SMOKING"] == 0
    assert any("2 = yes" in note for note in notes)


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("1", 1),
        ("0", 0),
        ("yes", 1),
        ("No", 0),
        ("TRUE", 1),
        (" y ", 1),
    ],
)
def test_yes_no_cells_accept_numbers_and_words(cell, expected):
    values = ["50", "F"] + [cell] + ["0"] * 12
    records, errors, _ = batch.read_csv(f"{TIDY_HEADER}\n{','.join(values)}\n", max_rows=10)
    assert errors == [] and records[0][1]["SMOKING"] == expected


@pytest.mark.parametrize(
    "row, reason",
    [
        (["abc", "M"] + ["0"] * 13, "AGE 'ABC' is not a whole number"),
        (["130", "M"] + ["0"] * 13, "AGE '130' is not a whole number from 0 to 120"),
        (["50", "X"] + ["0"] * 13, "GENDER 'X' is not M/F or 1/0"),
        (["50", "M", "3"] + ["0"] * 12, "SMOKING '3' is not yes/no or 0/1"),
        (["50", "M", ""] + ["0"] * 12, "SMOKING is empty"),
        (["50", "M"] + ["0"] * 12, "CHRONIC DISEASE is empty"),
    ],
)
def test_bad_rows_are_reported_by_line_number_and_good_rows_kept(row, reason):
    good = ",".join(["40", "F"] + ["1"] * 13)
    text = f"{TIDY_HEADER}\n{good}\n{','.join(row)}\n{good}\n"
    records, errors, _ = batch.read_csv(text, max_rows=10)
    assert [line for line, _ in records] == [2, 4]
    assert len(errors) == 1 and errors[0][0] == 3 and reason in errors[0][1]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        (f"{TIDY_HEADER}\n", "no rows"),
        ("AGE,GENDER,SMOKING\n50,M,1\n", "Missing columns: ALCOHOL CONSUMING"),
        (f"{TIDY_HEADER},Smoking\n" + ",".join(["1"] * 16) + "\n", "Two columns mean SMOKING"),
        (f"{TIDY_HEADER}\n" + (",".join(["50", "M"] + ["0"] * 13) + "\n") * 4, "more than 3 rows"),
    ],
)
def test_unusable_files_are_refused_as_a_whole(text, message):
    with pytest.raises(batch.BatchFileError, match=message):
        batch.read_csv(text, max_rows=3)


def test_semicolon_separated_files_with_a_bom_are_read():
    text = "\ufeff" + TIDY_HEADER.replace(",", ";") + "\n" + ";".join(["50", "M"] + ["0"] * 13) + "\n"
    records, errors, _ = batch.read_csv(text, max_rows=10)
    assert errors == [] and records[0][1]["AGE"] == 50


def test_an_unreachable_api_shows_a_readable_message_not_a_stack_trace():
    settings = UISettings(api_url=f"http://127.0.0.1:{free_port()}")
    handlers = Handlers(APIProxyClient(settings.api_url, mode="simple"), settings)
    card = handlers.predict(50, "female", *([False] * 13), "en")
    assert "cannot be reached" in card and "Traceback" not in card
    table, caption, _ = handlers.logs("", 20, 0)
    assert table["data"] == [] and "cannot be reached" in caption
