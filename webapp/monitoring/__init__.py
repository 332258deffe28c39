"""Input drift of the logged predictions against the training reference: statistics, charts,
the reference loader and the standalone report (`python -m webapp.monitoring.report`). No Flask."""
