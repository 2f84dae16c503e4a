"""Foreground-background composite: fitted background noise, seeded sampling, saved with the model."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_hdl.errors import InputError  # noqa: E402
from keras_hdl.models import (  # noqa: E402
    ForegroundBackgroundComposite,
    PhaseGenerator,
    background_seeds,
    fit_background_noise,
)

SIZE = 64


def test_fit_background_noise_uses_only_background_pixels(rng):
    magnitudes = np.full((4, SIZE, SIZE), -1.0, np.float32)
    magnitudes[:, 20:40, 20:40] = 0.3  # foreground
    phases = rng.normal(0.05, 0.02, (4, SIZE, SIZE, 3))
    phases[:, 20:40, 20:40] = 0.9  # foreground values must not leak into the fit
    background = phases[magnitudes <= -0.95]
    mean, std = fit_background_noise(phases, magnitudes)
    assert mean == pytest.approx(background.mean())
    assert std == pytest.approx(background.std())
    assert mean == pytest.approx(0.05, abs=2e-3) and std == pytest.approx(0.02, abs=1e-3)


def test_fit_background_noise_rejects_bad_input():
    with pytest.raises(InputError, match="no background pixels"):
        fit_background_noise(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 4)))
    with pytest.raises(InputError, match="same frames"):
        fit_background_noise(np.zeros((1, 4, 4, 3)), np.zeros((1, 5, 4)))


def composite_inputs(seeds):
    phase = np.full((len(seeds), SIZE, SIZE, 3), 0.5, np.float32)
    magnitude = np.full((len(seeds), SIZE, SIZE, 1), -1.0, np.float32)
    magnitude[:, :16] = 0.2  # frame t is foreground in the top rows only
    return [phase, magnitude, np.asarray(seeds, np.int32)]


@pytest.mark.parametrize("neighbours, centre", [(3, 1), (5, 2)])
def test_generator_composite_takes_the_foreground_from_frame_t_only(neighbours, centre):
    generator = PhaseGenerator(widths=[4, 8], neighbours=neighbours, background_mean=0.25, background_std=0.0)
    magnitudes = np.full((1, 16, 16, neighbours), 0.9, np.float32)  # neighbours foreground everywhere
    magnitudes[..., centre] = -1.0
    magnitudes[:, :4, :, centre] = 0.2  # frame t is foreground in the top rows only
    phase = np.asarray(generator({"magnitudes": magnitudes, "seed": np.int32([[1, 2]])})["phase"])
    np.testing.assert_array_equal(phase[:, 4:], 0.25)  # σ = 0: the background is μ exactly
    assert not np.allclose(phase[:, :4], 0.25)


def test_background_reproduces_the_fitted_mean_and_std_and_keeps_the_foreground():
    layer = ForegroundBackgroundComposite(background_mean=0.03, background_std=0.05)
    output = np.asarray(layer(composite_inputs([[1, 2], [3, 4]])))
    np.testing.assert_array_equal(output[:, :16], 0.5)
    background = output[:, 16:]
    assert background.mean() == pytest.approx(0.03, abs=2e-3)
    assert background.std() == pytest.approx(0.05, abs=2e-3)


def test_same_seed_gives_the_same_background_and_another_seed_does_not():
    layer = ForegroundBackgroundComposite(background_mean=0.0, background_std=0.1)
    first = np.asarray(layer(composite_inputs([[7, 8], [9, 10]])))
    again = np.asarray(layer(composite_inputs([[7, 8], [9, 10]])))
    np.testing.assert_array_equal(first, again)
    # a sample's noise depends on its own seed only, not on its batch neighbours
    alone = np.asarray(layer(composite_inputs([[9, 10]])))
    np.testing.assert_array_equal(alone[0], first[1])
    other = np.asarray(layer(composite_inputs([[7, 9], [9, 10]])))
    assert not np.allclose(other[0, 16:], first[0, 16:])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"background_mean": 2.0, "background_std": 0.1}, "background_mean"),
        ({"background_mean": 0, "background_std": -1}, "background_std"),
    ],
)
def test_composite_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        ForegroundBackgroundComposite(**kwargs)


def test_fitted_noise_is_saved_and_reloaded_with_the_generator(tmp_path, rng):
    generator = PhaseGenerator(widths=[8, 16], norm="instance", background_mean=-0.2, background_std=0.07)
    magnitudes = np.full((1, SIZE, SIZE, 3), -1.0, np.float32)
    inputs = {"magnitudes": magnitudes, "seed": background_seeds(1, seed=3)}
    generator.save(tmp_path / "generator.keras")
    reloaded = keras.models.load_model(tmp_path / "generator.keras")
    assert (reloaded.background_mean, reloaded.background_std) == (-0.2, 0.07)
    output = np.asarray(reloaded(inputs)["phase"])  # all background: pure seeded noise
    np.testing.assert_array_equal(output, generator(inputs)["phase"])
    assert output.mean() == pytest.approx(-0.2, abs=0.01) and output.std() == pytest.approx(0.07, abs=0.005)


def test_vanilla_generator_is_the_same_network_without_the_composite(rng):
    hdl = PhaseGenerator(widths=[8, 16], norm="instance", background_mean=0.5, background_std=0.0)
    vanilla = PhaseGenerator(widths=[8, 16], norm="instance", composite=False)
    assert [tensor.name for tensor in vanilla.inputs] == ["magnitudes"]
    vanilla.set_weights(hdl.get_weights())  # the composite adds no weights
    magnitudes = rng.uniform(-0.5, 1, (1, 16, 16, 3)).astype(np.float32)
    magnitudes[:, :4, :, 1] = -1.0  # background rows of the centre frame
    raw = np.asarray(vanilla({"magnitudes": magnitudes})["phase"])
    composite = np.asarray(hdl({"magnitudes": magnitudes, "seed": background_seeds(1, 0)})["phase"])
    np.testing.assert_allclose(composite[:, 4:], raw[:, 4:], atol=1e-6)
    np.testing.assert_array_equal(composite[:, :4], 0.5)  # σ = 0: the background is exactly μ
    assert not np.allclose(raw[:, :4], 0.5)
