"""The interpolator split for inference (encoder once per gap, decoder once per dropped frame) gives the
whole network's frames, on the shipped weights, in Keras and TFLite; only a network whose condition joins
at the bottleneck splits."""

from __future__ import annotations

import numpy as np
import pytest
from shipped_crops import FRAMES, K

from keras_hdl.interpolation.network import EncoderDecoderInterpolator, NetworkInterpolator, network_interpolator
from keras_hdl.runtime import BACKEND_TOLERANCE
from keras_hdl.synthesis import load_local_models, resolve_models_folder
from keras_hdl.synthesis.pipeline import fill_gaps, gap_targets

SPLIT_ATOL = 3e-5
"""Split vs whole network in Keras fp32 (magnitude in [−1, 1], mask probability in [0, 1]).

The split runs the very same layers and weights on the same inputs; only the batches differ (the
encoder sees 3 pairs, the decoder 18 frames, the whole network 18 frames), and oneDNN picks its
convolution kernels, so the order of float32 sums, by batch size and CPU (AVX2 / AVX-512): a few ulps
(1.2e-7 near 1) per layer, ~1e-6 after the ~60 conv layers (cf. ``BATCH_ATOL_RAW_PHASE``: 1.1e-6
measured across batch sizes). Measured here: 0 on an AVX-512 EPYC. 3e-5 leaves a 30× margin and is
still far below what a wrong pairing does (a target decoded with another gap's features or another
target's condition moves the frame by > 1e-2; asserted below)."""


@pytest.fixture(scope="module")
def whole_network_frames(shipped_crops):
    """The 18 dropped frames (1, 18, 96, 96) of the shipped crops through the whole Keras network, per frame."""
    from keras_hdl.synthesis.networks import load_local_networks

    network = load_local_networks(resolve_models_folder())[1]["interpolator"]
    return fill_gaps(*shipped_crops, gap_targets(FRAMES, K), NetworkInterpolator.from_model(network))


@pytest.mark.parametrize(
    ("backend", "tolerance"),
    [
        ("keras", {"magnitude_max_abs": SPLIT_ATOL, "mask_max_abs": SPLIT_ATOL}),
        ("tflite", BACKEND_TOLERANCE),  # XNNPACK's kernels against oneDNN's: the back ends' stated tolerance
    ],
)
def test_split_interpolator_gives_the_whole_networks_frames(shipped_crops, whole_network_frames, backend, tolerance):
    if backend == "tflite":
        pytest.importorskip("ai_edge_litert.interpreter")
    models = load_local_models(resolve_models_folder(), backend=backend)
    assert isinstance(models.interpolator, EncoderDecoderInterpolator)  # the shipped cpu preset splits
    magnitude, mask = fill_gaps(*shipped_crops, gap_targets(FRAMES, K), models.interpolator)
    whole_magnitude, whole_mask = whole_network_frames
    assert magnitude.shape == whole_magnitude.shape == (1, FRAMES - 3, 96, 96)
    assert np.abs(magnitude - whole_magnitude).max() <= tolerance["magnitude_max_abs"]
    assert np.abs(mask - whole_mask).max() <= tolerance["mask_max_abs"]
    # what the tolerance must tell apart: neighbouring targets (same pair, other condition) and gaps differ
    assert np.abs(whole_magnitude[0, 1] - whole_magnitude[0, 0]).max() > 1e-2
    assert np.abs(whole_magnitude[0, 6] - whole_magnitude[0, 5]).max() > 1e-2


def test_only_an_interpolator_with_the_condition_at_the_bottleneck_splits():
    from keras_hdl.models import TemporalInterpolator, VanillaR2UNetInterpolator, inference_parts

    architecture = {"widths": (4, 8), "recurrence": 1, "norm": "instance"}
    network = TemporalInterpolator(**architecture)
    parts = inference_parts(network)
    assert sorted(parts) == ["interpolator_decoder", "interpolator_encoder"]
    # the parts are the network's own layers: every weight of the network, each in one part
    weights = [id(w) for part in parts.values() for w in part.weights]
    assert sorted(weights) == sorted(id(w) for w in network.weights)
    assert set(parts["interpolator_decoder"].input) == {
        *parts["interpolator_encoder"].output,
        "magnitudes",
        "condition",
    }

    at_input = TemporalInterpolator(**architecture, condition_at_input=True)
    assert (
        list(inference_parts(at_input))
        == list(inference_parts(VanillaR2UNetInterpolator(**architecture)))
        == ["interpolator"]
    )
    with pytest.raises(ValueError, match="feeds the condition to its heads"):
        at_input.split()

    def predictor(inputs):
        raise AssertionError("not called")

    assert isinstance(network_interpolator({"interpolator": predictor}), NetworkInterpolator)
    split = network_interpolator({"interpolator_encoder": predictor, "interpolator_decoder": predictor})
    assert isinstance(split, EncoderDecoderInterpolator)
