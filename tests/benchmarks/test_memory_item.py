"""The memory item measures each command in its own process (the workload itself runs in `keras-hdl benchmark`)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.benchmarks.memory import TARGET_GB, command_peak_gb, peak_row
from keras_hdl.memory import MEMORY_ENV
from keras_hdl.series import Series


def test_peak_of_a_child_command_is_its_own():
    ballast = np.ones(300_000_000 // 8)  # this process holds 0.3 GB; a forked child would report at least that
    peak = command_peak_gb(["--help"])  # a bare CLI start (no TensorFlow): tens of MB
    assert 0.005 < peak < 0.1
    assert ballast.sum() == ballast.size


def test_a_failing_command_is_reported_not_measured(tmp_path):
    with pytest.raises(RuntimeError, match=r"keras-hdl assess .* failed \(exit code 2\)"):
        command_peak_gb(["assess", str(tmp_path / "missing.npz")])


def test_a_series_refused_as_too_big_gives_a_row_that_says_why(tmp_path, monkeypatch, small_series_arrays):
    magnitude, phase, masks = small_series_arrays
    path = Series(magnitude=magnitude, phase=phase, masks=masks).save_npz(tmp_path / "series.npz")
    monkeypatch.setenv(MEMORY_ENV, "0.000001")  # the child inherits the cap
    row = peak_row("peak RSS assess", ["assess", str(path), "--out", str(tmp_path / "out")])
    assert row.value is None and row.baseline == TARGET_GB
    assert "failed (exit code 2)" in row.note and "GB of memory, but 0.0 GB are available" in row.note
    assert not (tmp_path / "out").exists()
