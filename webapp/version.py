"""The service's own version (the model has its own, from its card)."""

__version__ = "1.0.0"
