"""JSON API blueprints. Each is served at its path and again under /api."""
