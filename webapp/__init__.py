"""Lung cancer risk screening service.

The package holds what runs in each process: `webapp.api` (the Flask app, under Gunicorn),
`webapp.admin` (its HTML pages), `webapp.ui` (the Gradio process, through `webapp.proxy`),
`webapp.monitoring` and `webapp.tools` (offline commands). Importing it loads nothing else:
see the README's Architecture section.
"""

from webapp.version import __version__

__all__ = ["__version__"]
