"""The model folder's files, named once for the code that writes them and the code that reads them.

Light on purpose (standard library only): training, the reference builder, the model service
and the drift monitor all import it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ARTIFACT_FILE = "model.joblib"
CARD_FILE = "model_card.json"
#: What serving reads: the artifact's plain numbers as JSON, so the API never unpickles the
#: estimator (which would import scikit-learn, SciPy and pandas into every worker).
SERVING_FILE = "serving.json"
REFERENCE_FILE = "reference.json"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (artifacts and data are checked against the model card)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
