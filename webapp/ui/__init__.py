"""The Gradio front end: a thin layer over the JSON API, reached through `webapp.proxy`.

`python -m webapp.ui` launches it; `build_demo()` lays out the page without launching.
"""

from .app import build_demo
from .settings import UISettings

__all__ = ["build_demo", "UISettings"]
