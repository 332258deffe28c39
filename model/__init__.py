"""Offline code beside the artifacts it writes: training (`python -m model.train`) and the drift
reference builder (`python -m model.reference`). Never imported by a serving process."""
