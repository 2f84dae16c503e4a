"""The synthesis pipeline: frame bookkeeping, kept frames untouched, seeds, field of view, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from twin_helpers import BATCH_ATOL_RAW_PHASE

from keras_hdl.errors import InputError
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.series import PHASE_LEVELS, Series, magnitude_scale
from keras_hdl.synthesis import downsample, frame_seeds, synthesize_crops, synthesize_twin
from keras_hdl.synthesis.pipeline import cycle_frames, gap_targets

FRAMES = 50


def frame_coded_series(rng, frames=FRAMES, slices=1, size=48) -> Series:
    """A full series whose frames all differ (smooth blob + frame-dependent level), with a ring mask per frame."""
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - size / 2, cols - size / 2 - 2)
    ring = (radius > 6) & (radius < 10)
    blob = 200.0 * np.exp(-(radius**2) / 150.0)
    levels = 100.0 + 50.0 * np.sin(2 * np.pi * np.arange(frames) / frames)
    magnitude = blob[None, None] + levels[:, None, None, None] + rng.uniform(0, 20, (frames, slices, size, size))
    masks = np.broadcast_to(ring, magnitude.shape).copy()
    return Series(magnitude=magnitude, masks=masks, pixel_spacing=(2.5, 2.5), rr_interval_ms=1000.0)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_gap_targets_for_every_k(k):
    plan = gap_targets(FRAMES, k)
    kept = np.arange(0, FRAMES, k + 1)
    np.testing.assert_array_equal(plan.targets, np.setdiff1d(np.arange(FRAMES), kept))
    starts = (plan.targets // (k + 1)) * (k + 1)
    ends = np.minimum(starts + k + 1, FRAMES)  # the last gap ends at frame T ≡ 0
    np.testing.assert_array_equal(kept[plan.start_index], starts)
    np.testing.assert_array_equal(kept[plan.end_index], ends % FRAMES)
    np.testing.assert_allclose(plan.positions, np.stack([starts, plan.targets, ends], -1) / FRAMES, rtol=1e-7)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_frame_bookkeeping(k, local_models):
    """T frames; kept frames are the input's unchanged; dropped frames are interpolated at their own indices.

    The untrained interpolator is exactly linear interpolation, so every dropped frame must equal
    (1 − w)·M_start + w·M_end of its own gap (inside the crop, up to the normalisation's clipping
    of the brightest 0.5 %; outside it by construction).
    """
    full = frame_coded_series(np.random.default_rng(k))
    low = downsample(full, k)
    twin = synthesize_twin(low, k, local_models, seed=3, frames=FRAMES)

    kept = np.arange(0, FRAMES, k + 1)
    assert twin.magnitude.shape == (FRAMES, 1, 48, 48) and twin.phase.shape == (FRAMES, 1, 3, 48, 48)
    np.testing.assert_array_equal(twin.magnitude[kept], full.magnitude[kept])
    np.testing.assert_array_equal(twin.masks[kept], full.masks[kept])
    dropped = np.setdiff1d(np.arange(FRAMES), kept)
    start = kept[dropped // (k + 1)]
    end = np.minimum(start + k + 1, FRAMES)
    weight = ((dropped - start) / (end - start))[:, None, None, None]
    expected = (1 - weight) * full.magnitude[start] + weight * full.magnitude[end % FRAMES]
    unclipped = np.maximum(full.magnitude[start], full.magnitude[end % FRAMES]) < magnitude_scale(low.magnitude)
    np.testing.assert_allclose(twin.magnitude[dropped][unclipped], expected[unclipped], rtol=1e-5)
    assert unclipped.mean() > 0.95
    assert twin.phase.min() >= 0 and twin.phase.max() <= PHASE_LEVELS


def test_low_frame_rate_convention_and_frames(local_models):
    """A kept-only series of N frames makes T = N·(K+1) frames, or the T given if it fits N and K."""
    full = frame_coded_series(np.random.default_rng(0))
    low = downsample(full, 6)  # 8 kept frames of 50
    assert low.num_frames == 8 and low.phase is None
    assert cycle_frames(8, 6, None) == 56
    assert cycle_frames(8, 6, 50) == 50
    with pytest.raises(InputError, match="cycle of 50 to 56 frames, not T = 60"):
        cycle_frames(8, 6, 60)
    # a full 50-frame series given with --k 3 instead of --downsample 3 is caught, not read as T = 200
    with pytest.raises(InputError, match=r"full series.*--downsample"):
        cycle_frames(50, 3, None)
    assert cycle_frames(50, 3, 200) == 200  # an explicit T is believed
    twin = synthesize_twin(low, 6, local_models, frames=50)
    assert twin.num_frames == 50
    np.testing.assert_array_equal(twin.magnitude[49], low.magnitude[7])  # frame 49 is the last kept one


def test_same_seed_same_twin_other_seed_other_background(phantom_series, local_models):
    low = downsample(phantom_series, 3)
    first = synthesize_twin(low, 3, local_models, seed=11, frames=FRAMES)
    again = synthesize_twin(low, 3, local_models, seed=11, frames=FRAMES)
    other = synthesize_twin(low, 3, local_models, seed=12, frames=FRAMES)
    np.testing.assert_array_equal(first.phase, again.phase)
    np.testing.assert_array_equal(first.magnitude, again.magnitude)
    assert np.mean(first.phase != other.phase) > 0.5  # background noise everywhere differs
    np.testing.assert_array_equal(first.magnitude, other.magnitude)  # magnitude does not depend on the seed


def test_provenance_and_geometry(phantom_series, local_models):
    twin = synthesize_twin(downsample(phantom_series, 2), 2, local_models, seed=5, frames=FRAMES)
    assert twin.provenance["source"] == "synthetic twin"
    assert twin.provenance["method"] == "HDL" and twin.provenance["k"] == 2 and twin.provenance["seed"] == 5
    assert twin.provenance["model_version"] == local_models.version
    assert not {"subject", "scan", "rescan"} & set(twin.provenance)  # nothing of the source
    assert twin.venc == phantom_series.venc and twin.pixel_spacing == phantom_series.pixel_spacing
    np.testing.assert_array_equal(twin.image_positions, phantom_series.image_positions)
    assert twin.rr_interval_ms == phantom_series.rr_interval_ms


def test_background_phase_outside_the_crop_follows_the_fitted_gaussian(phantom_series, local_models):
    twin = synthesize_twin(downsample(phantom_series, 3), 3, local_models, seed=1, frames=FRAMES)
    normalized = twin.normalized_phase()
    outside = normalized[:, :, :, :4, :]  # the top rows lie outside a 32-pixel crop of a 64-pixel image
    assert outside.mean() == pytest.approx(local_models.background_mean, abs=2e-3)
    assert outside.std() == pytest.approx(local_models.background_std, rel=0.05)
    assert not twin.masks[:, :, :4, :].any()


def test_crop_level_twin_matches_a_hand_made_reference(local_models):
    """synthesize_crops puts kept frames at 0, K+1, … and the interpolator's frames between, then each frame's
    phase from its cyclic neighbours (the tiny generator: t−2 … t+2) and cycle position t/T."""
    rng = np.random.default_rng(2)
    kept_magnitudes = rng.uniform(-1, 1, (2, 10, 32, 32)).astype(np.float32)
    kept_masks = (rng.random((2, 10, 32, 32)) > 0.5).astype(np.float32)
    crops = synthesize_crops(kept_magnitudes, kept_masks, 4, 50, 9, LinearInterpolator(), local_models.phase)
    np.testing.assert_array_equal(crops.magnitude[:, ::5], kept_magnitudes)
    np.testing.assert_array_equal(crops.mask[:, ::5], kept_masks)
    # frame 47 lies in the last gap 45 → 50 ≡ 0, 2/5 of the way from kept frame 45 to kept frame 0
    expected = 0.6 * kept_magnitudes[:, 9] + 0.4 * kept_magnitudes[:, 0]
    np.testing.assert_allclose(crops.magnitude[:, 47], expected, atol=1e-6)
    assert local_models.phase.neighbours == 5 and local_models.phase.cycle_position
    frames = np.stack([crops.magnitude[1, t] for t in (48, 49, 0, 1, 2)], -1)  # frame 0 of slice 1, wrapping
    seed = frame_seeds(9, 2, 50)[50]
    np.testing.assert_array_equal(seed, [9, 50])
    position = np.float32([[0.0]])  # t/T of frame 0
    # one sample alone against the same sample in a batch of 100: BATCH_ATOL_RAW_PHASE, normalised
    tolerance = {"rtol": 0, "atol": BATCH_ATOL_RAW_PHASE / (PHASE_LEVELS / 2)}
    np.testing.assert_allclose(
        crops.phase[1, 0], local_models.phase.synthesize(frames[None], seed[None], position)[0], **tolerance
    )
    frames = np.stack([crops.magnitude[0, t] for t in (5, 6, 7, 8, 9)], -1)  # frame 7 of slice 0
    np.testing.assert_allclose(
        crops.phase[0, 7],
        local_models.phase.synthesize(frames[None], frame_seeds(9, 2, 50)[7:8], np.float32([[7 / 50]]))[0],
        **tolerance,
    )


def test_resampled_field_of_view(local_models):
    """A series at another pixel spacing (2.0 mm, models 2.5 mm): the crop is resampled there and back."""
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=FRAMES, size=80, fov_mm=160.0, seed=1), 0)
    assert series.pixel_spacing == (2.0, 2.0)
    twin = synthesize_twin(downsample(series, 3), 3, local_models, seed=0, frames=FRAMES)
    kept = np.arange(0, FRAMES, 4)
    np.testing.assert_array_equal(twin.magnitude[kept], series.magnitude[kept])
    # the untrained interpolator is linear: a dropped frame stays close to the linear blend after two resamplings
    blend = 0.5 * (series.magnitude[4] + series.magnitude[8])
    error = np.abs(twin.magnitude[6] - blend).mean() / blend.mean()
    assert error < 0.05
    # the synthesised phase covers the crop's footprint: 32 pixels at 2.5 mm ≈ 39 pixels at 2.0 mm
    synthesised_rows = (np.abs(twin.normalized_phase()[0, 0, 0] - local_models.background_mean) > 0.2).any(axis=1)
    assert 30 <= synthesised_rows.sum() <= 40


def test_field_of_view_round_trip():
    from keras_hdl.synthesis.field_of_view import LVWindow

    rows, cols = np.mgrid[:60, :80]
    image = np.sin(rows / 9.0) + np.cos(cols / 7.0)
    masks = np.zeros((2, 60, 80), bool)
    masks[:, 28:35, 38:45] = True  # centroid (31, 41)
    same = LVWindow.around(masks, (2.0, 2.0), (2.0, 2.0), 16)
    crop = same.crop(image, fill=-1)
    np.testing.assert_allclose(crop, image[23:39, 33:49], atol=1e-6)  # 16 pixels from (31 − 8, 41 − 8)
    pasted = same.paste(crop)
    assert np.isfinite(pasted).sum() == 16 * 16
    np.testing.assert_allclose(pasted[23:39, 33:49], crop)
    coarse = LVWindow.around(masks, (2.0, 2.0), (3.0, 4.0), 16)
    back = coarse.paste(coarse.crop(image, fill=-1))
    inside = np.isfinite(back)
    # the footprint spans the crop's first to last pixel centres: (16 − 1) · 3/2 × (16 − 1) · 4/2 source pixels
    assert inside.sum() == pytest.approx((15 * 3 / 2) * (15 * 4 / 2), rel=0.05)
    assert np.abs(back[inside] - image[inside]).max() < 0.1


def test_bad_inputs_are_named(phantom_series, local_models):
    low = downsample(phantom_series, 3)
    with pytest.raises(InputError, match="K = 7 is out of range"):
        synthesize_twin(low, 7, local_models)
    with pytest.raises(InputError, match="no myocardium masks"):
        synthesize_twin(low.replace(masks=None), 3, local_models, frames=FRAMES)
    masks = low.masks.copy()
    masks[2, 1] = False
    with pytest.raises(InputError, match=r"masks missing for 1 kept frame.*frame 8 slice 1"):
        synthesize_twin(low.replace(masks=masks), 3, local_models, frames=FRAMES)
    with pytest.raises(InputError, match="seed"):
        synthesize_twin(low, 3, local_models, seed=-1, frames=FRAMES)
