"""Load the trained model once, check it, and serve predictions with plain NumPy.

Knows nothing about the web framework, nor about scikit-learn: it serves the artifact's numbers
from `serving.json` (written beside `model.joblib` by training, tied to it by its sha256), so no
request worker imports scikit-learn, SciPy or pandas. That the NumPy path reproduces the fitted
estimator is proved by the tests (`tests/test_model.py`), which unpickle it.

`service.py` holds ModelService (loading, prediction, metadata), `results.py` what it returns,
and `phrasebook.py` the per-language sentences its batch answers are assembled from.
"""

from webapp.model_service.results import FEW_ROWS, Factor, Prediction, Predictions
from webapp.model_service.service import ModelLoadError, ModelService

__all__ = ["FEW_ROWS", "Factor", "ModelLoadError", "ModelService", "Prediction", "Predictions"]
