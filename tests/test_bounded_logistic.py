"""The sign-constrained logistic regression: scikit-learn's objective, held bounds, portable artifact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from model.bounded_logistic import BoundedLogisticRegression


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    logit = X @ np.array([1.5, -1.0, 0.5, 0.0]) + 0.3
    y = (rng.random(300) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_without_bounds_it_matches_scikit_learns_logistic_regression(data):
    X, y = data
    ours = BoundedLogisticRegression(C=0.5, class_weight="balanced").fit(X, y)
    theirs = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-4)


def test_a_held_coefficient_never_goes_negative_and_the_others_stay_free(data):
    X, y = data
    model = BoundedLogisticRegression(C=1.0, nonnegative=(False, True, False, False)).fit(X, y)
    assert model.coef_[0, 1] == 0.0  # the data pull it below zero: the bound holds it at zero
    assert model.coef_[0, 0] > 1.0


def test_it_clones_calibrates_and_exports_a_plain_logistic_regression(data):
    X, y = data
    estimator = BoundedLogisticRegression(C=1.0, nonnegative=(True,) * 4)
    calibrated = CalibratedClassifierCV(clone(estimator), method="sigmoid", cv=3, ensemble=False).fit(X, y)
    inner = calibrated.calibrated_classifiers_[0].estimator
    plain = inner.as_logistic_regression()
    assert type(plain) is LogisticRegression
    np.testing.assert_allclose(plain.predict_proba(X), inner.predict_proba(X), atol=1e-12)


def test_a_wrong_number_of_bounds_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="nonnegative"):
        BoundedLogisticRegression(nonnegative=(True,)).fit(X, y)
