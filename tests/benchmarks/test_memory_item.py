"""The memory item measures each command in its own process (the workload itself runs in `keras-hdl benchmark`)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.benchmarks.memory import command_peak_gb


def test_peak_of_a_child_command_is_its_own():
    ballast = np.ones(300_000_000 // 8)  # this process holds 0.3 GB; a forked child would report at least that
    peak = command_peak_gb(["--help"])  # a bare CLI start (no TensorFlow): tens of MB
    assert 0.005 < peak < 0.1
    assert ballast.sum() == ballast.size


def test_a_failing_command_is_reported_not_measured(tmp_path):
    with pytest.raises(RuntimeError, match=r"keras-hdl assess .* failed \(exit code 2\)"):
        command_peak_gb(["assess", str(tmp_path / "missing.npz")])
