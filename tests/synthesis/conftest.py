"""Fixtures of the synthesis tests: an untrained tiny models folder and a small phantom."""

from __future__ import annotations

import pytest
from shipped_crops import shipped_kept_crops
from twin_helpers import tiny_models


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="session")
def phantom_series():
    """A 2-slice, 50-frame, 64×64 phantom scan at 2.5 mm (the tiny models' spacing)."""
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=2, frames=50, size=64, seed=0), 0)
    return series


@pytest.fixture(scope="session")
def local_models(tiny_models_dir):
    from keras_hdl.synthesis import load_local_models

    return load_local_models(tiny_models_dir)


@pytest.fixture(scope="session")
def shipped_crops():
    """Kept LV crops (1, 3, 96, 96) of a 128-px phantom slice at the shipped models' spacing, and their masks."""
    return shipped_kept_crops()
