"""The TF Serving REST client against a STAND-IN server (tests/export/stand_in_serving.py, not TF Serving).

The stand-in loads the exported SavedModels and speaks TF Serving's REST predict API; the
client must give the twin that local synthesis gives (within the float32 tolerances below).
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from twin_helpers import BATCH_ATOL_RAW_PHASE

from keras_hdl.cli import main
from keras_hdl.errors import InputError
from keras_hdl.export.serving import RestPredictor, connect, fetch_info
from keras_hdl.series import Series


def test_rest_twin_equals_local_twin(server, tiny_models_dir, phantom_npz, tmp_path):
    runner = CliRunner()
    # the served SavedModels are the Keras graphs: compare with the local Keras back end (TFLite: test_backends.py)
    local = runner.invoke(main, ["synthesize", str(phantom_npz), "--downsample", "4", "--seed", "8", "--backend",
                                 "keras", "--out", str(tmp_path / "local"),
                                 "--model", str(tiny_models_dir)])  # fmt: skip
    assert local.exit_code == 0, local.output
    server.requests.clear()
    remote = runner.invoke(main, ["synthesize", str(phantom_npz), "--downsample", "4", "--seed", "8",
                                  "--out", str(tmp_path / "remote"), "--server", server.url])  # fmt: skip
    assert remote.exit_code == 0, remote.output
    local_twin = Series.load_npz(tmp_path / "local" / "twin.npz")
    remote_twin = Series.load_npz(tmp_path / "remote" / "twin.npz")
    # The served SavedModel and the local Keras model run in other batch sizes and graphs (float32 sums in
    # another order, BATCH_ATOL_RAW_PHASE): masks, the interpolator's probability thresholded at 0.5, may
    # flip where it lies within ~1e-6 of 0.5; 1e-4 of the pixels is 40 of the 409600.
    assert (remote_twin.masks != local_twin.masks).mean() <= 1e-4
    np.testing.assert_allclose(remote_twin.magnitude, local_twin.magnitude, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(remote_twin.phase, local_twin.phase, rtol=0, atol=BATCH_ATOL_RAW_PHASE)
    assert remote_twin.provenance == local_twin.provenance  # same models version, K, seed
    # batched requests: 2 slices × 40 dropped frames and 2 × 50 phase frames in batches of 32
    assert server.requests.count(("interpolator", "serving_default")) == 3
    assert server.requests.count(("phase", "serving_default")) == 4


def test_model_info_and_clear_errors(server, tiny_models_dir):
    from keras_hdl.synthesis import load_local_models

    local = load_local_models(tiny_models_dir)
    remote = connect(server.url)
    assert (remote.crop_size, remote.pixel_spacing_mm, remote.version) == (
        local.crop_size,
        local.pixel_spacing_mm,
        local.version,
    )
    assert remote.background_std == pytest.approx(local.background_std)
    assert fetch_info(server.url, "twin")["models_version"] == local.version
    with pytest.raises(InputError, match=r"refused 'nowhere'.*HTTP 404"):
        RestPredictor(server.url, "nowhere")({"magnitudes": np.zeros((1, 32, 32, 3), np.float32)})
    with pytest.raises(InputError, match="HTTP 400 input size does not match signature"):
        RestPredictor(server.url, "phase")({"magnitudes": np.zeros((1, 32, 32, 3), np.float32)})
