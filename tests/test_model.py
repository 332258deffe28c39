"""The committed model: its card, its loader's checks, and the NumPy serving path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
import sklearn

from model import train
from tests.helpers import REPO_ROOT, dataset_path
from webapp.features import FEATURES, REFERENCE, canonical_name
from webapp.model_service import Factor, ModelLoadError, ModelService, Prediction

MODEL_DIR = REPO_ROOT / "model"


@pytest.fixture(scope="module")
def service() -> ModelService:
    return ModelService.load(MODEL_DIR)


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((MODEL_DIR / "model_card.json").read_text())


@pytest.fixture()
def model_copy(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def person(age: float = 50, **answers: int) -> np.ndarray:
    """One input row in FEATURES order; answers named by any spelling of a feature (CHEST_PAIN=1)."""
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("AGE")] = age
    for key, value in answers.items():
        row[FEATURES.index(canonical_name(key))] = value
    return row.reshape(1, -1)


def test_young_woman_without_symptoms_scores_far_below_old_male_smoker_with_symptoms(service):
    young = service.predict(person(25, GENDER=0))[0]
    old = service.predict(
        person(
            70,
            GENDER=1,
            SMOKING=1,
            COUGHING=1,
            WHEEZING=1,
            CHEST_PAIN=1,
            SHORTNESS_OF_BREATH=1,
            SWALLOWING_DIFFICULTY=1,
        )
    )[0]
    assert young.probability < old.probability / 2
    assert young.risk_level != "high"
    assert (young.prediction, old.prediction) == (0, 1)


def test_predict_returns_plain_dataclasses(service):
    result = service.predict(person())[0]
    assert isinstance(result, Prediction)
    assert all(isinstance(factor, Factor) for factor in result.factors)
    assert isinstance(result.probability, float) and isinstance(result.prediction, int)


def test_loader_refuses_a_tampered_artifact(model_copy, card):
    artifact = model_copy / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256") as error:
        ModelService.load(model_copy)
    assert card["artifact"]["sha256"] in str(error.value)


def test_loader_refuses_a_serving_file_not_exported_from_the_artifact(model_copy):
    serving = json.loads((model_copy / "serving.json").read_text())
    (model_copy / "serving.json").write_text(json.dumps(dict(serving, artifact_sha256="0" * 64)))
    with pytest.raises(ModelLoadError, match="was not exported from"):
        ModelService.load(model_copy)


def test_the_committed_serving_file_is_the_artifacts_export(tmp_path):
    """serving.json holds the artifact's own numbers (JSON floats round-trip exactly)."""
    shutil.copy(MODEL_DIR / "model.joblib", tmp_path / "model.joblib")
    train.export_serving(tmp_path)
    assert (tmp_path / "serving.json").read_bytes() == (MODEL_DIR / "serving.json").read_bytes()


def test_serving_imports_neither_scikit_learn_nor_scipy():
    """The API's workers serve from serving.json: none of the estimator's libraries is loaded."""
    code = (
        "import sys, wsgi; wsgi.app.test_client().get('/health');"
        "print(sorted(m for m in ('sklearn', 'scipy', 'pandas', 'joblib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


@pytest.mark.parametrize("missing", ["model.joblib", "model_card.json", "serving.json"])
def test_loader_says_how_to_train_when_a_file_is_missing(model_copy, missing):
    (model_copy / missing).unlink()
    with pytest.raises(ModelLoadError, match="python -m model.train"):
        ModelService.load(model_copy)


def test_numpy_path_equals_sklearn_on_the_training_data(service):
    X, _ = train.load_dataset(dataset_path())
    estimator = joblib.load(MODEL_DIR / "model.joblib")["estimator"]
    expected = estimator.predict_proba(X)[:, 1]
    actual = np.array([result.probability for result in service.predict(X)])
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


def test_served_threshold_is_the_card_threshold(service, card):
    assert service.threshold == card["threshold"] == service.metadata()["threshold"]


def test_card_threshold_keeps_sensitivity_at_95_percent_on_its_own_folds_and_within_noise_nested(card):
    assert card["pooled_out_of_fold"]["sensitivity"] >= train.TARGET_SENSITIVITY
    low, high = card["metrics"]["sensitivity"]["ci95"]
    assert low <= train.TARGET_SENSITIVITY <= high


def test_chosen_model_follows_the_selection_rule(card):
    candidates = card["candidates"]
    rule = train.choose(
        candidates, [c for c in (*train.CANDIDATES, *train.SIGNED_CANDIDATES) if c.name in candidates]
    )
    assert card["model_name"] == rule.name


def test_card_reports_nested_means_with_intervals_not_the_fold_spread(card):
    for name, figure in card["metrics"].items():
        low, high = figure["ci95"]
        assert low < figure["mean"] < high, name
        assert high - low > 2 * figure["std"] / 5**0.5 * 1.96, name  # wider than the naive interval
    assert card["metrics"]["roc_auc"]["ci95"][0] > 0.85


def test_card_reports_both_models_and_adopts_signs_only_without_a_loss_beyond_noise(card):
    evaluation = card["evaluation"]
    assert set(evaluation["families"]) == {"unconstrained", "sign_constrained"}
    difference = evaluation["sign_constrained_minus_unconstrained"]["roc_auc"]
    adopted = card["sign_constraints"]["adopted"]
    assert adopted == (difference["ci95"][1] >= 0)
    served = "sign_constrained" if adopted else "unconstrained"
    assert card["metrics"] == evaluation["families"][served]["metrics"]


def test_served_weights_respect_the_medical_signs(card):
    assert card["sign_constraints"]["adopted"]
    for name in card["sign_constraints"]["nonnegative"]:
        assert card["weights"][name] >= 0, name
    assert {"SMOKING", "GENDER", "COUGHING", "CHEST PAIN"} <= set(card["sign_constraints"]["nonnegative"])


@pytest.mark.parametrize("group", ["women", "men", "age under 55", "age 55 to 64", "age 65 and over"])
def test_card_reports_sensitivity_and_specificity_by_group(card, group):
    figures = card["by_group"][group]
    assert figures["people_with_cancer"] > 0 and figures["people_without"] > 0
    for rate in ("sensitivity", "specificity"):
        low, high = figures[f"{rate}_ci95"]
        assert low <= figures[rate] <= high


def test_prediction_and_risk_level_follow_the_threshold_and_bands(service, card):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(500, len(FEATURES))).astype(float)
    X[:, 0] = rng.integers(21, 88, size=500)
    bands = {band["level"]: band for band in card["risk_bands"]}
    for result in service.predict(X):
        assert result.prediction == int(result.probability >= card["threshold"])
        band = bands[result.risk_level]
        assert band["from"] <= result.probability < band["to"] or band["level"] == "high"
        assert "not a diagnosis" in result.message


@pytest.mark.parametrize(
    "path, expected",
    [
        (("data", "sha256"), "77e4f763ab845eae865907c3014088beab8fa2e1185676bff91387858c729b1b"),
        (("data", "raw_rows"), 309),
        (("data", "rows_used"), 276),
        (("data", "exact_duplicates_dropped"), 33),
        (("data", "class_balance", "positive"), 238),
        (("feature_names",), list(FEATURES)),
        (("training_ranges", "AGE"), [21, 87]),
        (("seed",), 42),
        (("libraries", "scikit-learn"), sklearn.__version__),
    ],
)
def test_card_records(card, path, expected):
    value = card
    for key in path:
        value = value[key]
    assert value == expected


@pytest.mark.parametrize("text", ["mysarahmadbhat/lung-cancer", "CC BY-NC-SA 4.0"])
def test_card_carries_dataset_attribution_and_licence(card, text):
    assert text in json.dumps(card["dataset"]) and "CC BY-NC-SA 4.0" in card["licence"]


def test_card_version_names_the_artifact_hash(card):
    assert card["model_version"].endswith(card["artifact"]["sha256"][:8])


@pytest.mark.timeout(1200)  # nested CV of two model families: about a minute of CPU, more on a busy machine
def test_make_train_again_gives_the_committed_bytes(tmp_path, card):
    """`make train` in a fresh process, as the committed artifact was made: same data, same bytes."""
    subprocess.run(
        [sys.executable, "-m", "model.train", "--data", str(dataset_path()), "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "model.joblib").read_bytes() == (MODEL_DIR / "model.joblib").read_bytes()
    assert (tmp_path / "serving.json").read_bytes() == (MODEL_DIR / "serving.json").read_bytes()
    assert json.loads((tmp_path / "model_card.json").read_text()) == card


def test_the_artifact_unpickles_with_scikit_learn_alone(card):
    """No class of this project is pickled: moving a training module never breaks loading."""
    import pickletools

    data = (MODEL_DIR / "model.joblib").read_bytes()
    modules = set()
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE") and argument.split(".")[0] in (
                "webapp",
                "__main__",
            ):
                modules.add(argument)
    except ValueError:
        pass  # joblib appends raw NumPy buffers after the pickle stream
    assert modules == set()


def test_loading_drops_exact_duplicates_and_codes_answers_as_0_1():
    X, y = train.load_dataset(dataset_path())
    unique_X, unique_y = train.drop_exact_duplicates(X, y)
    assert (len(X), len(unique_X)) == (309, 276)
    assert set(np.unique(X[:, 1:])) == {0.0, 1.0} and set(np.unique(y)) == {0, 1}
    assert X[:, 0].min() == 21 and X[:, 0].max() == 87


@pytest.mark.parametrize(
    "age, warnings",
    [
        (95, ("AGE 95 is outside the training range 21-87; the estimate is an extrapolation.",)),
        (10, ("AGE 10 is outside the training range 21-87; the estimate is an extrapolation.",)),
        (50, ()),
        (21, ()),
        (87, ()),
    ],
)
def test_warns_only_for_ages_outside_the_training_range(service, age, warnings):
    assert service.predict(person(age))[0].warnings == warnings


def test_factors_are_the_persons_own_answers_largest_first(service):
    factors = service.predict(person(64, SMOKING=1, COUGHING=1, ALLERGY=1))[0].factors
    sizes = [abs(factor.contribution) for factor in factors]
    assert sizes == sorted(sizes, reverse=True)
    assert {factor.feature for factor in factors} == {"AGE", "SMOKING", "COUGHING", "ALLERGY"}
    assert all(factor.direction == ("raises" if factor.contribution > 0 else "lowers") for factor in factors)


def test_factors_add_up_to_the_distance_from_the_reference_person(service):
    row = person(64, GENDER=1, SMOKING=1, COUGHING=1, ALLERGY=1, FATIGUE=1)
    reference = service.predict(person(REFERENCE["AGE"]))[0]
    result = service.predict(row)[0]

    def logit(p):
        return np.log(p / (1 - p))

    moved = sum(factor.contribution for factor in result.factors)
    slope = -service._a  # the Platt sigmoid maps model log-odds to the score's log-odds
    assert logit(result.probability) - logit(reference.probability) == pytest.approx(slope * moved)


def test_the_reference_person_has_no_factors_and_a_younger_one_has_age_lowering(service):
    assert service.predict(person(REFERENCE["AGE"]))[0].factors == ()
    younger = service.predict(person(21))[0].factors
    assert [(f.feature, f.direction, f.text) for f in younger] == [
        ("AGE", "lowers", "Age 21: lowers the score")
    ]


@pytest.mark.parametrize("bad", [np.zeros(15), np.zeros((1, 14)), np.full((1, 15), np.nan)])
def test_predict_rejects_wrong_shapes_and_non_finite_values(service, bad):
    with pytest.raises(ValueError):
        service.predict(bad)


def test_metadata_describes_inputs_in_feature_order_and_both_classes(service):
    metadata = service.metadata()
    assert [item["name"] for item in metadata["inputs"]] == list(FEATURES)
    assert metadata["classes"] == [0, 1]
    assert [band["level"] for band in metadata["risk_bands"]] == ["low", "moderate", "high"]
    assert metadata["version"] == service.version
