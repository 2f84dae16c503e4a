"""Losses against hand-computed values, zero gradients where masked, and the ω regions."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from keras_hdl import metrics  # noqa: E402
from keras_hdl.errors import InputError  # noqa: E402
from keras_hdl.losses import (  # noqa: E402
    LeastSquaresGANLoss,
    SoftDiceLoss,
    WeightedMAE,
    foreground_region,
    lv_region,
    mean_absolute_error,
)


def image(values) -> tf.Tensor:
    """(1, H, W, 1) float32 tensor from a 2-D list."""
    return tf.constant(np.asarray(values, np.float32)[None, ..., None])


TRUE = image([[0.0, 0.0], [0.0, 0.0]])
PRED = image([[1.0, -2.0], [0.5, 0.0]])
REGION = image([[1, 0], [0, 0]])


def test_mean_absolute_error_by_hand():
    assert float(mean_absolute_error(TRUE, PRED)[0]) == pytest.approx((1 + 2 + 0.5 + 0) / 4)


def test_weighted_mae_by_hand():
    # ω = [[1, .1], [.1, .1]]: (1·1 + .1·2 + .1·.5 + .1·0) / (1 + .3) = 1.25 / 1.3
    assert float(WeightedMAE(0.1)(TRUE, PRED, REGION)[0]) == pytest.approx(1.25 / 1.3)
    assert float(WeightedMAE(0.0)(TRUE, PRED, REGION)[0]) == pytest.approx(1.0)  # MAE inside the region
    assert float(WeightedMAE(1.0)(TRUE, PRED, REGION)[0]) == pytest.approx(3.5 / 4)  # plain MAE
    assert float(WeightedMAE(0.0)(TRUE, PRED, tf.zeros_like(REGION))[0]) == 0.0  # empty region


def test_weighted_mae_is_per_sample_and_broadcasts_a_one_channel_region():
    y_true = tf.zeros((2, 2, 2, 3))
    y_pred = tf.concat([tf.ones((1, 2, 2, 3)), 2 * tf.ones((1, 2, 2, 3))], axis=0)
    region = tf.constant(np.float32([[[[1], [0]], [[0], [0]]]] * 2))
    np.testing.assert_allclose(WeightedMAE(0.1)(y_true, y_pred, region), [1.0, 2.0], rtol=1e-6)


def test_no_gradient_where_the_weight_is_zero():
    prediction = tf.Variable(PRED)
    with tf.GradientTape() as tape:
        loss = WeightedMAE(0.0)(TRUE, prediction, REGION)
    gradient = tape.gradient(loss, prediction).numpy()[0, ..., 0]
    np.testing.assert_array_equal(gradient, [[1.0, 0.0], [0.0, 0.0]])  # d|x|/dx = sign(1) / Σω (= 1)
    with tf.GradientTape() as tape:
        loss = WeightedMAE(0.1)(TRUE, prediction, REGION)
    gradient = tape.gradient(loss, prediction).numpy()[0, ..., 0]
    np.testing.assert_allclose(gradient, np.array([[1.0, -0.1], [0.1, 0.0]]) / 1.3, rtol=1e-6)


def test_soft_dice_by_hand_and_identical_masks_give_zero():
    mask = image([[1, 1], [0, 0]])
    assert float(SoftDiceLoss()(mask, mask)[0]) == pytest.approx(0.0, abs=1e-6)
    empty = tf.zeros_like(mask)
    assert float(SoftDiceLoss()(empty, empty)[0]) == pytest.approx(0.0, abs=1e-6)
    soft = image([[0.5, 1], [0.25, 0]])
    # overlap 1.5, Σp = 1.75, Σy = 2: 1 − 3 / 3.75 = 0.2
    assert float(SoftDiceLoss(smooth=1e-9)(mask, soft)[0]) == pytest.approx(0.2, abs=1e-6)


def test_least_squares_gan_by_hand():
    real = image([[1.0, 0.5], [1.0, 1.0]])
    fake = image([[0.0, 1.0], [0.0, 0.5]])
    gan = LeastSquaresGANLoss()
    # real: mean((r−1)²) = .25/4; fake: mean(f²) = (1 + .25)/4
    assert float(gan.discriminator(real, fake)[0]) == pytest.approx(0.5 * (0.0625 + 0.3125))
    # generator: mean((f−1)²) = (1 + 0 + 1 + .25)/4
    assert float(gan.generator(fake)[0]) == pytest.approx(2.25 / 4)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: WeightedMAE(-0.1), "low_weight"),
        (lambda: WeightedMAE(1.5), "low_weight"),
        (lambda: SoftDiceLoss(0.0), "smooth"),
        (lambda: LeastSquaresGANLoss(1.0, 1.0), "differ"),
    ],
)
def test_bad_arguments_are_rejected(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_regions_agree_with_the_metrics_module(rng):
    masks = (rng.random((3, 24, 24)) > 0.97).astype(np.float32)
    magnitude = rng.uniform(-1, -0.9, (3, 24, 24)).astype(np.float32)
    for padding in (0, 2, 4):
        np.testing.assert_array_equal(
            lv_region(tf.constant(masks[..., None]), padding).numpy()[..., 0], metrics.lv_region(masks, padding)
        )
    np.testing.assert_array_equal(
        foreground_region(tf.constant(magnitude[..., None])).numpy()[..., 0], metrics.foreground_region(magnitude)
    )


def test_lv_region_dilates_by_the_padding():
    mask = np.zeros((1, 9, 9, 1), np.float32)
    mask[0, 4, 4, 0] = 1
    region = lv_region(tf.constant(mask), 2).numpy()[0, ..., 0]
    expected = np.zeros((9, 9))
    expected[2:7, 2:7] = 1
    np.testing.assert_array_equal(region, expected)


def test_differentiable_velocity_equals_the_numpy_assessment(rng):
    """The TensorFlow per-frame means equal keras_hdl.assessment's global curves (bulk motion, centroid, mm offsets)."""
    from keras_hdl.assessment import assess_velocity
    from keras_hdl.losses import myocardial_velocity

    frames, size, spacing = 6, 24, (1.5, 2.5)  # anisotropic pixels: offsets must be taken in mm
    rows, cols = np.mgrid[:size, :size]
    masks = np.zeros((frames, size, size), bool)
    for t in range(frames):  # off-centre annuli of changing radius
        radius = np.hypot((rows - 11.0 - 0.3 * t) * spacing[0], (cols - 12.5) * spacing[1])
        masks[t] = (radius > 6 + t) & (radius < 14 + t)
    velocity = rng.normal(0, 3.0, (frames, size, size, 3)).astype(np.float32) + np.float32([1.0, -2.0, 0.5])
    expected = assess_velocity(
        np.moveaxis(velocity, -1, 1)[:, None], masks[:, None], pixel_spacing=spacing
    ).global_curves[0]  # (3, T) mm/s
    got = myocardial_velocity(
        velocity, masks[..., None].astype(np.float32), np.tile(np.float32(spacing), (frames, 1))
    ).numpy()  # (T, 3) cm/s
    # float32 sums over ~300 pixels of values ~3 against float64: relative error ~1e-6
    np.testing.assert_allclose(got.T * 10.0, expected, rtol=1e-4, atol=1e-4)


def test_velocity_curve_l1_is_zero_for_equal_phase_and_sees_a_bias(rng):
    from keras_hdl.losses import VelocityCurveL1

    size = 16
    mask = np.zeros((2, size, size, 1), np.float32)
    mask[:, 4:12, 4:12] = 1.0
    phase = rng.uniform(-0.5, 0.5, (2, size, size, 3)).astype(np.float32)
    venc = np.float32([[20, 20, 30], [20, 20, 30]])
    spacing = np.float32([[2, 2], [2, 2]])
    loss = VelocityCurveL1()
    np.testing.assert_allclose(loss(phase, phase, mask, venc, spacing), [0.0, 0.0], atol=1e-6)
    shifted = phase.copy()
    shifted[..., 2] += 0.3  # a through-plane bias of 0.3·venc: only the longitudinal mean moves
    np.testing.assert_allclose(loss(phase, shifted, mask, venc, spacing), [0.1, 0.1], rtol=1e-4)
