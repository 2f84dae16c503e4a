"""Linear and Horn–Schunck interpolation against known motions."""

import numpy as np
import pytest
from scipy import ndimage

from keras_hdl.errors import InputError
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.interpolation.optical_flow import HornSchunckInterpolator, horn_schunck_flow, warp

SIZE = 64


def textured_image(seed: int = 0) -> np.ndarray:
    """A smooth random texture in [−1, 1] (H, W): optical flow needs gradients everywhere."""
    noise = np.random.default_rng(seed).normal(size=(SIZE, SIZE))
    image = ndimage.gaussian_filter(noise, 3.0)
    return (image / np.abs(image).max()).astype(np.float32)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The image moved by (dx, dy) pixels: out(p) = image(p − d)."""
    return ndimage.shift(image, (dy, dx), order=3, mode="nearest").astype(np.float32)


def test_linear_gives_the_end_frames_at_k_zero_and_k_gap():
    rng = np.random.default_rng(0)
    start, end = rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    masks = rng.random((2, 3, 8, 8)) > 0.5
    linear = LinearInterpolator()
    # positions / T for a gap 10 → 14 (K = 3): k = 0, k = K+1 and k = 1
    positions = np.array([[10, 10, 14], [10, 14, 14], [10, 11, 14]]) / 50
    magnitude, mask = linear.interpolate(start, end, masks[0], masks[1], positions)
    np.testing.assert_array_equal(magnitude[0], start[0])
    np.testing.assert_array_equal(magnitude[1], end[1])
    np.testing.assert_allclose(magnitude[2], 0.75 * start[2] + 0.25 * end[2], rtol=1e-6)
    np.testing.assert_allclose(mask[2], 0.75 * masks[0][2] + 0.25 * masks[1][2])


@pytest.mark.parametrize(("dx", "dy"), [(1.5, -0.8), (-3.0, 2.0), (6.0, -4.0)])
def test_horn_schunck_recovers_a_translation(dx, dy):
    first = textured_image()
    second = shifted(first, dx, dy)
    flow = horn_schunck_flow(first[None], second[None], smoothness=0.05, iterations=200)[0]
    interior = flow[12:-12, 12:-12].reshape(-1, 2)
    # stated error: the median flow is within 0.15 px of the true shift
    np.testing.assert_allclose(np.median(interior, axis=0), [dx, dy], atol=0.15)


def test_horn_schunck_recovers_a_rotation():
    first = textured_image(1)
    angle = np.deg2rad(4.0)
    centre = (SIZE - 1) / 2
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    # rotate counter-clockwise as displayed: content at offset d moves to R d (y down)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    offsets = np.stack([cols - centre, rows - centre], axis=-1)
    source = offsets @ np.linalg.inv(rotation).T  # where each output pixel came from
    second = ndimage.map_coordinates(first, [source[..., 1] + centre, source[..., 0] + centre], order=3, mode="nearest")
    flow = horn_schunck_flow(first[None], second[None].astype(np.float32), smoothness=0.05, iterations=200)[0]
    expected = offsets @ rotation.T - offsets
    ring = (np.hypot(*offsets.T).T > 6) & (np.hypot(*offsets.T).T < 22)
    error = np.linalg.norm(flow[ring] - expected[ring], axis=-1)
    # stated error: median end-point error below 0.25 px for displacements up to 1.5 px
    assert np.median(error) < 0.25


def test_horn_schunck_interpolation_moves_the_content_half_way():
    first = textured_image(2)
    end = shifted(first, 4.0, 0.0)
    middle_truth = shifted(first, 2.0, 0.0)
    masks = np.stack([first > 0.2, end > 0.2]).astype(np.float32)
    positions = np.array([[0, 1, 2]]) / 50
    flow_estimate, flow_mask = HornSchunckInterpolator(smoothness=0.05, iterations=150).interpolate(
        first[None], end[None], masks[0][None], masks[1][None], positions
    )
    linear_estimate, _ = LinearInterpolator().interpolate(
        first[None], end[None], masks[0][None], masks[1][None], positions
    )
    inner = (slice(None), slice(10, -10), slice(10, -10))
    flow_error = np.abs(flow_estimate - middle_truth[None])[inner].mean()
    linear_error = np.abs(linear_estimate - middle_truth[None])[inner].mean()
    assert flow_error < 0.5 * linear_error
    truth_mask = middle_truth > 0.2
    dice = 2 * ((flow_mask[0] > 0.5) & truth_mask).sum() / ((flow_mask[0] > 0.5).sum() + truth_mask.sum())
    assert dice > 0.85


def test_warp_samples_at_the_displaced_position():
    image = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    displacement = np.zeros((1, 5, 5, 2), np.float32)
    displacement[..., 0] = 1.0  # sample one column to the right
    np.testing.assert_array_equal(warp(image, displacement)[0, :, :4], image[0, :, 1:])


def test_bad_horn_schunck_arguments_are_rejected():
    with pytest.raises(InputError, match="smoothness > 0"):
        HornSchunckInterpolator(smoothness=0)


def test_horn_schunck_gives_each_target_the_flow_of_its_own_gap():
    """Targets sharing kept frames reuse one flow: the batch equals each target interpolated alone."""
    first, second, third = (
        textured_image(3),
        shifted(textured_image(3), 2.0, 1.0),
        shifted(textured_image(3), -1.0, 2.0),
    )
    start = np.stack([first, first, second, first])
    end = np.stack([second, second, third, second])
    masks = (start > 0.2).astype(np.float32), (end > 0.2).astype(np.float32)
    positions = np.array([[0, 1, 4], [0, 3, 4], [4, 5, 8], [0, 2, 4]]) / 50
    interpolator = HornSchunckInterpolator(iterations=20)
    batch = interpolator.interpolate(start, end, *masks, positions)
    for i in range(4):
        alone = interpolator.interpolate(
            start[i : i + 1], end[i : i + 1], masks[0][i : i + 1], masks[1][i : i + 1], positions[i : i + 1]
        )
        np.testing.assert_allclose(batch[0][i], alone[0][0], atol=1e-5)
        np.testing.assert_allclose(batch[1][i], alone[1][0], atol=1e-5)
