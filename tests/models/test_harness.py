"""One harness every network passes: config round trip, .keras save/reload, odd sizes, shapes and ranges."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_hdl.config import build_from_config  # noqa: E402
from keras_hdl.errors import InputError  # noqa: E402

SIZE = 32

# (preset section, key, expected outputs: name -> (channels, low, high))
CASES = {
    "interpolator": ("interpolation", "model", {"magnitude": (1, None, None), "mask": (1, 0, 1)}),
    "vanilla_r2unet": (
        "interpolation",
        "vanilla_model",
        {"magnitude": (1, None, None), "mask": (1, 0, 1)},
    ),
    "interpolation_discriminator": ("interpolation", "discriminator", {"patches": (1, None, None)}),
    "phase_generator": ("phase", "model", {"phase": (3, -1, 1)}),
    "vanilla_pix2pix": ("phase", "vanilla_model", {"phase": (3, -1, 1)}),
    "phase_discriminator": ("phase", "discriminator", {"patches": (1, None, None)}),
}


def inputs_for(model, rng, size=SIZE):
    """Random inputs matching a model's named inputs (images in [−1, 1])."""
    inputs = {}
    for tensor in model.inputs:
        if tensor.name == "seed":
            inputs["seed"] = np.array([[1, 2], [3, 4]], np.int32)
        elif tensor.name == "condition":
            inputs["condition"] = np.float32([[0.1, 0.16, 0.2], [0.9, 0.94, 1.02]])
        elif tensor.name == "position":
            inputs["position"] = np.float32([[0.1], [0.7]])  # t/T
        else:
            inputs[tensor.name] = rng.uniform(-1, 1, (2, size, size, tensor.shape[-1])).astype(np.float32)
    if "magnitudes" in inputs and "seed" in inputs:
        inputs["magnitudes"][:, :8] = -1.0  # background for the composite
    return inputs


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tiny_preset):
    section, key, outputs = CASES[request.param]
    keras.utils.set_random_seed(0)
    model = build_from_config(getattr(getattr(tiny_preset, section), key))
    return request.param, model, outputs


def test_config_round_trip(case):
    _, model, _ = case
    config = model.get_config()
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == config
    assert rebuilt.count_params() == model.count_params()


def test_save_and_reload_give_equal_outputs(case, tmp_path, rng):
    name, model, _ = case
    inputs = inputs_for(model, rng)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.get_config() == model.get_config()
    expected, actual = model(inputs, training=False), reloaded(inputs, training=False)
    for output in expected:
        np.testing.assert_allclose(np.asarray(actual[output]), np.asarray(expected[output]), rtol=0, atol=1e-6)


def test_odd_sizes_are_rejected_with_a_clear_message(case, rng):
    _, model, _ = case
    inputs = inputs_for(model, rng, size=SIZE - 2)
    with pytest.raises(InputError, match=r"30×30 pixels.*multiples of (4|16)"):
        model(inputs)


def test_output_shapes_and_ranges(case, rng):
    name, model, outputs = case
    produced = model(inputs_for(model, rng), training=False)
    assert sorted(produced) == sorted(outputs)
    discriminator = "discriminator" in name
    for output, (channels, low, high) in outputs.items():
        values = np.asarray(produced[output])
        side = SIZE // 16 if discriminator else SIZE
        assert values.shape == (2, side, side, channels)
        assert np.all(np.isfinite(values))
        if low is not None:
            assert values.min() >= low and values.max() <= high


def test_paper_discriminator_gives_a_16_by_16_patch_map_for_256_inputs(rng):
    from keras_hdl.models import PatchDiscriminator

    discriminator = PatchDiscriminator(image_channels=3, context_channels=3, base_width=4)
    image = rng.uniform(-1, 1, (1, 256, 256, 3)).astype(np.float32)
    patches = discriminator({"image": image, "context": image})["patches"]
    assert patches.shape == (1, 16, 16, 1)
    widths = [layer.filters for layer in discriminator.layers if hasattr(layer, "strides") and layer.strides == 2]
    assert widths == [4, 8, 16, 32]  # 64/128/256/512 scaled by base_width
