"""Shared fixtures. Keep TensorFlow out of here: most tests do not need it."""

from __future__ import annotations

import os

import numpy as np
import pytest

import keras_hdl  # noqa: F401  (before any test imports TensorFlow: it switches oneDNN on, as for users)
from keras_hdl.runtime import usable_cpus

# Quiet TensorFlow's C++ start-up logs for the tests that import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _share_the_cores_between_workers() -> None:
    """Give each pytest-xdist worker's TensorFlow its share of the usable cores for one op's threads.

    By default every worker's TensorFlow splits each op over all the cores, so two workers on two cores run
    four busy threads and the many small ops of the tiny networks wait on each other: the tests that train
    take 15-20 % longer (``tests/models`` and the circles run with ``-n 2`` on 2 cores: 312 s, 260 s with one
    thread each). Read by TensorFlow when it starts, so set before any test imports it; an explicit setting
    in the environment wins. Subprocesses that tests start inherit it.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = max(1, usable_cpus() // workers)
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(share))


_share_the_cores_between_workers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow first (in their collected order), then the rest: pytest-xdist's default ``load``
    scheduling deals the first quarter of the tests out one by one in turn, so the minutes-long ones start
    early on both workers and the short ones fill them at the end, instead of one worker finishing a long test
    alone. (``--dist worksteal`` would not: it splits the list into one contiguous half per worker.)"""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def small_series_arrays(rng):
    """Arrays of a valid 4-frame, 2-slice, 16×16 series: magnitude, phase, masks."""
    shape = (4, 2, 16, 16)
    magnitude = rng.uniform(0, 100, shape).astype(np.float32)
    phase = rng.integers(0, 4097, (4, 2, 3, 16, 16)).astype(np.float32)
    masks = rng.random(shape) > 0.5
    return magnitude, phase, masks
