"""R2UNet blocks, the interpolator's separate heads and tails, its linear skip, and parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_hdl.errors import InputError  # noqa: E402
from keras_hdl.models import TemporalInterpolator, VanillaR2UNetInterpolator  # noqa: E402
from keras_hdl.models.blocks import RecurrentUnit, recurrent_unit  # noqa: E402

WIDTHS = [8, 16, 32]


def batch(rng, size=32):
    return {
        "magnitudes": rng.uniform(-1, 1, (2, size, size, 2)).astype(np.float32),
        "masks": (rng.random((2, size, size, 2)) > 0.5).astype(np.float32),
        "condition": np.float32([[0.1, 0.16, 0.2], [0.9, 0.92, 1.02]]),
    }


def perturb(model: keras.Model, scale: float = 0.5) -> None:
    for weight in model.trainable_weights:
        weight.assign(weight + scale)


def test_recurrent_unit_shares_one_conv_and_has_a_norm_per_step(rng):
    x = keras.Input((8, 8, 4))
    model = keras.Model(x, recurrent_unit(x, 4, recurrence=2, norm="batch", name="unit"))
    (unit,) = [layer for layer in model.layers if isinstance(layer, RecurrentUnit)]
    convs = [w for w in unit.weights if "conv" in w.path]
    assert len(convs) == 1  # one shared 3x3 kernel (no bias: the norms follow)
    assert len(unit.norms) == 3  # t + 1 = 3 steps, each its own batch norm
    for norm in unit.norms:  # set each step's statistics apart, so a shared one would give other numbers
        norm.moving_mean.assign(rng.normal(size=4).astype(np.float32))
        norm.moving_variance.assign(rng.uniform(0.5, 2.0, size=4).astype(np.float32))
    values = rng.normal(size=(1, 8, 8, 4)).astype(np.float32)
    kernel = np.asarray(unit.conv.kernel)

    def step(inputs, norm):  # conv3x3 'same' → inference batch norm → ReLU, in numpy
        padded = np.pad(inputs, ((0, 0), (1, 1), (1, 1), (0, 0)))
        conv = sum(padded[:, i : i + 8, j : j + 8, :] @ kernel[i, j] for i in range(3) for j in range(3))
        mean, variance = np.asarray(norm.moving_mean), np.asarray(norm.moving_variance)
        scaled = (conv - mean) / np.sqrt(variance + norm.epsilon) * np.asarray(norm.gamma) + np.asarray(norm.beta)
        return np.maximum(scaled, 0.0)

    state = step(values, unit.norms[0])
    for norm in unit.norms[1:]:
        state = step(values + state, norm)
    # float32 convolutions of 36 terms with unit-scale values: 1e-4 covers any summation order
    np.testing.assert_allclose(model(values, training=False), state, atol=1e-4, rtol=1e-4)


def test_heads_have_separate_weights(rng):
    model = TemporalInterpolator(widths=WIDTHS, norm="instance")
    head_ids = [{id(w) for w in head.weights} for head in (model.magnitude_head, model.mask_head)]
    assert head_ids[0].isdisjoint(head_ids[1])
    inputs = batch(rng)
    masks_before = [np.asarray(f) for f in model.mask_head(inputs["masks"])]
    magnitudes_before = [np.asarray(f) for f in model.magnitude_head(inputs["magnitudes"])]
    perturb(model.magnitude_head)
    for before, after in zip(masks_before, model.mask_head(inputs["masks"]), strict=True):
        np.testing.assert_array_equal(after, before)
    assert not np.allclose(model.magnitude_head(inputs["magnitudes"])[0], magnitudes_before[0])


def test_tails_have_separate_weights(rng):
    model = TemporalInterpolator(widths=WIDTHS, norm="instance")
    inputs = batch(rng)
    before = model(inputs)
    perturb(model.image_tail)
    after = model(inputs)
    np.testing.assert_array_equal(after["mask"], before["mask"])
    assert not np.allclose(after["magnitude"], before["magnitude"])
    perturb(model.mask_tail)
    np.testing.assert_array_equal(model(inputs)["magnitude"], after["magnitude"])


def test_untrained_interpolator_is_linear_interpolation_with_the_correct_weights(rng):
    model = TemporalInterpolator(widths=WIDTHS, norm="instance", condition_at_input=True)
    inputs = batch(rng)
    magnitude = np.asarray(model(inputs)["magnitude"])
    # k/(K+1) = 0.06/0.1 = 0.6 and 0.02/0.12 = 1/6 (a gap that runs into the next cycle)
    for index, weight in enumerate((0.6, 1 / 6)):
        start, end = inputs["magnitudes"][index, ..., 0], inputs["magnitudes"][index, ..., 1]
        np.testing.assert_allclose(magnitude[index, ..., 0], (1 - weight) * start + weight * end, atol=1e-5)


def test_condition_changes_the_prediction(rng):
    model = TemporalInterpolator(widths=WIDTHS, norm="instance")
    perturb(model.image_tail, 0.1)
    inputs = batch(rng)
    other = {**inputs, "condition": inputs["condition"] + np.float32([0.3, 0.3, 0.3])}
    assert not np.allclose(model(inputs)["mask"], model(other)["mask"])


def r2unet_parameters(in_channels: int, out_channels: int, widths: list[int], recurrence: int = 2) -> int:
    """Closed-form parameter count of the vanilla R2UNet with batch norm (4 values per channel and step)."""

    def block(c_in: int, width: int) -> int:  # 1×1 projection + two recurrent units (one conv3x3, a BN per step)
        return c_in * width + width + 2 * (9 * width * width + 4 * width * (recurrence + 1))

    total, c_in = 0, in_channels
    for width in widths:
        total += block(c_in, width)
        c_in = width
    for level in reversed(range(len(widths) - 1)):
        total += 9 * widths[level + 1] * widths[level] + 4 * widths[level]  # up-conv + BN
        total += block(2 * widths[level], widths[level])
    return total + widths[0] * out_channels + out_channels


@pytest.mark.parametrize("widths", [[8, 16, 32], [16, 32, 64, 128]])
def test_vanilla_r2unet_parameter_count_matches_the_closed_form(widths):
    model = VanillaR2UNetInterpolator(widths=widths, norm="batch")
    assert model.count_params() == r2unet_parameters(6, 2, widths)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"widths": [8]}, "widths"),
        ({"widths": [8, -16]}, "widths"),
        ({"recurrence": 0}, "recurrence"),
        ({"norm": "layer"}, "norm"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(InputError, match=message):
        TemporalInterpolator(**{"widths": WIDTHS, **kwargs})


def test_paper_preset_parameter_counts(capsys):
    from keras_hdl.config import build_from_config, load_preset

    preset = load_preset("paper")
    counts = {
        "interpolator": build_from_config(preset.interpolation.model).count_params(),
        "vanilla R2UNet": build_from_config(preset.interpolation.vanilla_model).count_params(),
        "phase generator": build_from_config(preset.phase.model).count_params(),
        "phase discriminator": build_from_config(preset.phase.discriminator).count_params(),
    }
    with capsys.disabled():
        print("\npaper preset parameters: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    assert counts["vanilla R2UNet"] == r2unet_parameters(6, 2, [64, 128, 256, 512, 1024])
    assert counts["phase generator"] == r2unet_parameters(3, 3, [64, 128, 256, 512, 1024])
    assert 80e6 < counts["interpolator"] < 110e6  # "about 100M" (docs/design.md §2.1)
