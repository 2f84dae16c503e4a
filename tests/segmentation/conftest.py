"""Fixtures of the segmentation tests: held-out phantom scans (128², base and apex) and their segmentations."""

from __future__ import annotations

import pytest

from keras_hdl.benchmarks.segmentation import variant_scan
from keras_hdl.segmentation import segment_series

SIZE, SLICES = 128, 2
"""2.34 mm pixels (the coarsest the phantom allows a 300 mm view), base and apical slices."""


@pytest.fixture(scope="session")
def segmented():
    """``segmented(variant)`` → (series, truth, segmentation) of the first held-out subject made as ``variant`` says."""
    cache = {}

    def make(name: str):
        if name not in cache:
            series, truth = variant_scan(name, 0, size=SIZE, slices=SLICES)
            cache[name] = (series, truth, segment_series(series))
        return cache[name]

    return make
