"""Logistic regression whose coefficients may be held to a sign: what medicine already knows.

A scikit-learn estimator (it clones, pipelines and calibrates like `LogisticRegression`) that
minimises the same L2-penalised, class-weighted log-loss with scipy's L-BFGS-B, under bounds
such as "smoking never lowers the score". Used offline by training only: the served artifact
holds a plain `LogisticRegression` carrying the fitted numbers (`as_logistic_regression`), so
loading the model never needs this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_sample_weight


class BoundedLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary L2 logistic regression; `nonnegative[j]` holds coefficient j at >= 0.

    The objective is scikit-learn's: sum_i s_i * logloss_i + ||w||^2 / (2C), intercept not
    penalised, s_i the class weights. Inputs are expected standardized (a pipeline's
    StandardScaler), which keeps each coefficient's sign that of the raw input.
    """

    def __init__(
        self,
        C: float = 1.0,
        nonnegative: Sequence[bool] = (),
        class_weight=None,
        max_iter: int = 5000,
        tol: float = 1e-10,
    ):
        self.C = C
        self.nonnegative = nonnegative
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"BoundedLogisticRegression is binary; got classes {self.classes_}")
        target = (y == self.classes_[1]).astype(np.float64)
        weight = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            weight = weight * np.asarray(sample_weight, dtype=np.float64)
        n_features = X.shape[1]
        signs = tuple(self.nonnegative) or (False,) * n_features
        if len(signs) != n_features:
            raise ValueError(f"nonnegative has {len(signs)} entries for {n_features} features")
        bounds = [(0.0, None) if held else (None, None) for held in signs] + [(None, None)]
        penalty = 1.0 / self.C

        def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:-1], theta[-1]
            z = X @ w + b
            loss = weight @ (np.logaddexp(0.0, z) - target * z) + 0.5 * penalty * (w @ w)
            residual = weight * (expit(z) - target)
            return loss, np.append(X.T @ residual + penalty * w, residual.sum())

        result = minimize(
            loss_and_gradient,
            np.zeros(n_features + 1),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter, "gtol": self.tol, "ftol": self.tol},
        )
        self.coef_ = result.x[:-1].reshape(1, -1)
        self.intercept_ = result.x[-1:].copy()
        self.n_features_in_ = n_features
        self.n_iter_ = np.array([result.nit])
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def as_logistic_regression(self) -> LogisticRegression:
        """A plain, fitted `LogisticRegression` with these numbers (the artifact pickles only scikit-learn)."""
        plain = LogisticRegression(C=self.C, class_weight=self.class_weight)
        plain.classes_ = self.classes_
        plain.coef_ = self.coef_.copy()
        plain.intercept_ = self.intercept_.copy()
        plain.n_features_in_ = self.n_features_in_
        plain.n_iter_ = self.n_iter_
        return plain
