"""What a process loads: importing the proxy (the UI's and the CLI tools' client) stays light,
and neither the API nor the UI loads the offline training code. Checked in a fresh interpreter,
since this test process has imported everything already."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import ROOT


def modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def test_importing_the_proxy_loads_neither_flask_numpy_nor_redis():
    loaded = modules_loaded_by("import webapp.proxy")
    assert "webapp.proxy" in loaded
    assert not {"flask", "werkzeug", "numpy", "redis", "gradio"} & loaded


def test_neither_the_api_nor_the_ui_loads_the_training_code():
    loaded = modules_loaded_by("import webapp.api, webapp.ui")
    assert {"webapp.api", "webapp.ui", "flask", "gradio"} <= loaded
    assert not {"model.train", "model.reference"} & loaded
