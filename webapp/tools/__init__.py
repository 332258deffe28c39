"""Offline commands that use the running API like any client: the traffic simulator
(`python -m webapp.tools.simulate`). Nothing here is imported by a serving process."""
