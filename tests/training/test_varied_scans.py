"""Training data from scans acquired differently: other frame counts and pixel spacings train together."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keras_hdl.errors import InputError
from keras_hdl.series import PHASE_LEVELS, REFERENCE_FRAME_INTERVAL_MS, REFERENCE_VENC_CM_S, Series
from keras_hdl.training.data import (
    PipelineOptions,
    SliceCines,
    interpolation_dataset,
    phase_dataset,
    slice_cines_from_series,
)
from keras_hdl.training.records import RecordShards, write_shards

SIZE = 16
CODE_FRAMES = 20  # magnitude value t / 20 codes frame t (cine i adds i / 100)


def ragged_cines(frames=(12, 20)) -> SliceCines:
    """Frame-coded cines of different T, padded to the longest as the loader pads them (magnitude −1 past T)."""
    longest = max(frames)
    magnitude = np.full((len(frames), longest, SIZE, SIZE), -1.0, np.float32)
    for cine, count in enumerate(frames):
        magnitude[cine, :count] = (np.arange(count) / CODE_FRAMES + cine / 100)[:, None, None]
    mask = (magnitude > -1).astype(np.float32)
    phase = np.repeat(magnitude[..., None], 3, axis=-1)
    venc = np.tile(np.float32([20, 20, 30]), (len(frames), 1))
    spacing = np.full((len(frames), 2), 2.0, np.float32)
    return SliceCines(magnitude, mask, phase, venc, spacing, np.asarray(frames, np.int32))


def decode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame t, cine index) of frame-coded values."""
    scaled = np.asarray(values, np.float64) * CODE_FRAMES
    frame = np.floor(scaled + 0.05).astype(int)
    return frame, np.round((scaled - frame) * 100 / CODE_FRAMES).astype(int)


def test_interpolation_samples_stay_inside_each_cines_own_cycle():
    cines = ragged_cines()
    options = PipelineOptions(k_values=(1, 3, 6), samples_per_cine=30, batch_size=6)
    seen = set()
    for inputs, targets in interpolation_dataset(cines, options, seed=4).take(10):
        magnitudes = inputs["magnitudes"].numpy()[:, 0, 0]
        assert magnitudes.min() >= 0, "a padded frame (past the cine's T) was sampled"
        start, cine = decode(magnitudes[:, 0])
        end, _ = decode(magnitudes[:, 1])
        target, _ = decode(targets["magnitude"].numpy()[:, 0, 0, 0])
        frames = cines.frames[cine]
        # the condition is in each cine's own cycle fraction: position / T_i
        positions = np.round(inputs["condition"].numpy() * frames[:, None]).astype(int)
        np.testing.assert_allclose(inputs["condition"].numpy() * frames[:, None], positions, atol=1e-4)
        np.testing.assert_array_equal(start, positions[:, 0] % frames)
        np.testing.assert_array_equal(target, positions[:, 1] % frames)
        np.testing.assert_array_equal(end, positions[:, 2] % frames)
        seen |= {(int(c), int(p)) for c, p in zip(cine, positions[:, 2], strict=True) if p >= frames[c]}
    assert {c for c, _ in seen} == {0, 1}, "both cines wrap around their own cycle end"


def test_phase_samples_wrap_at_each_cines_own_cycle_end():
    cines = ragged_cines()
    options = PipelineOptions(samples_per_cine=60, batch_size=10, cycle_position=True)
    wrapped = set()
    for inputs, _ in phase_dataset(cines, options, seed=2).take(12):
        magnitudes = inputs["magnitudes"].numpy()[:, 0, 0]
        assert magnitudes.min() >= 0
        frames, cine = decode(magnitudes)
        centre, count = frames[:, 1], cines.frames[cine[:, 1]]
        np.testing.assert_array_equal(frames[:, 0], (centre - 1) % count)
        np.testing.assert_array_equal(frames[:, 2], (centre + 1) % count)
        np.testing.assert_allclose(inputs["position"].numpy()[:, 0], centre / count, rtol=1e-6)
        wrapped |= {int(c) for c, f in zip(cine[:, 1], centre, strict=True) if f == cines.frames[c] - 1}
    assert wrapped == {0, 1}


def ring_series(
    frames: int, spacing_mm: float, radius_mm: float = 24.0, wall_mm: float = 8.0, frame_interval_ms: float = 20.0
) -> Series:
    """A one-slice series whose myocardium is a static ring of ``radius_mm`` (mid-wall) in a 150 mm field of view,
    ``frame_interval_ms`` between its frames."""
    size = round(150 / spacing_mm)
    rows, cols = (np.mgrid[0:size, 0:size] - (size - 1) / 2) * spacing_mm
    ring = np.abs(np.hypot(rows, cols) - radius_mm) <= wall_mm / 2
    magnitude = np.where(ring, 800.0, 200.0).astype(np.float32)
    phase = np.full((frames, 1, 3, size, size), PHASE_LEVELS / 2, np.float32)
    masks = np.broadcast_to(ring, (frames, 1, size, size))
    magnitude = np.broadcast_to(magnitude, (frames, 1, size, size))
    rr = frame_interval_ms * frames
    return Series(magnitude, phase, masks=masks, pixel_spacing=(spacing_mm, spacing_mm), rr_interval_ms=rr)


def test_scans_of_other_spacings_and_frame_counts_are_cropped_on_one_model_grid(tmp_path):
    series = [ring_series(20, 1.5), ring_series(26, 2.5), ring_series(30, 2.0)]
    cines = slice_cines_from_series(series, crop_size=48)
    np.testing.assert_array_equal(cines.frames, [20, 26, 30])
    assert cines.num_frames == 30 and cines.fewest_frames == 20
    np.testing.assert_allclose(cines.pixel_spacing, 2.0)  # the median spacing: the model grid
    # the ring's mid-wall radius is 24 mm = 12 model pixels in every crop (bilinear resampling and
    # rasterising the 4-pixel-wide wall move the mean radius by well under a pixel)
    centre = (48 - 1) / 2
    rows, cols = np.mgrid[0:48, 0:48] - centre
    for cine in range(3):
        ring = cines.mask[cine, 0] > 0.5
        assert abs(np.hypot(rows, cols)[ring].mean() - 12.0) < 0.6
        assert (cines.mask[cine, cines.frames[cine] :] == 0).all() and (
            cines.magnitude[cine, cines.frames[cine] :] == -1
        ).all()

    # TFRecord shards keep each cine's own T and stream them padded, as in memory
    write_shards(cines, tmp_path / "shards", cines_per_shard=2)
    shards = RecordShards.open(tmp_path / "shards")
    assert (shards.num_frames, shards.fewest_frames) == (30, 20)
    loaded = shards.load()
    np.testing.assert_array_equal(loaded.frames, cines.frames)
    np.testing.assert_array_equal(loaded.mask, cines.mask)
    # float16 storage of magnitudes in [-1, 1]: relative error <= 2^-11
    np.testing.assert_allclose(loaded.magnitude, cines.magnitude, atol=1e-3)


def test_phase_is_re_expressed_at_the_reference_venc():
    """A scan at half the reference venc: its normalised phase 0.25 is 0.125 of the reference's range."""
    series = ring_series(20, 2.0)
    half = tuple(v / 2 for v in REFERENCE_VENC_CM_S)
    quarter_up = np.full(series.phase.shape, PHASE_LEVELS / 2 * 1.25, np.float32)  # normalised +0.25
    cines = slice_cines_from_series([series.replace(phase=quarter_up, venc=half)], crop_size=32)
    np.testing.assert_allclose(cines.venc, [REFERENCE_VENC_CM_S])
    # inside the field of view (the crop fills with 0 beyond it): exactly 0.25 · 0.5
    np.testing.assert_allclose(cines.phase[0, 0, 8:24, 8:24], 0.125, rtol=0, atol=1e-6)


def test_phase_is_re_expressed_as_displacement_per_reference_frame_interval():
    """Scans at 10, 20 and 40 ms between frames: the same 5 cm/s is phase 0.125, 0.25 and 0.5 of the reference."""
    assert REFERENCE_FRAME_INTERVAL_MS == 20.0  # the figures below are by hand for it
    series = ring_series(20, 2.0)
    velocity = np.float32(5.0)  # cm/s in x, y and z, at the reference venc 20/20/30: phase 0.25, 0.25, 1/6
    raw = PHASE_LEVELS / 2 * (1 + velocity / np.float32(REFERENCE_VENC_CM_S))  # (3,)
    phase = np.broadcast_to(raw[None, None, :, None, None], series.phase.shape).astype(np.float32)
    scans = [ring_series(20, 2.0, frame_interval_ms=ms).replace(phase=phase) for ms in (10.0, 20.0, 40.0)]
    cines = slice_cines_from_series(scans, crop_size=32)
    for cine, factor in enumerate((0.5, 1.0, 2.0)):
        np.testing.assert_allclose(cines.venc[cine], np.float32(REFERENCE_VENC_CM_S) / factor, rtol=1e-6)
        expected = factor * velocity / np.float32(REFERENCE_VENC_CM_S)
        np.testing.assert_allclose(cines.phase[cine, 0, 8:24, 8:24], np.broadcast_to(expected, (16, 16, 3)), atol=1e-6)
        # phase × venc is still the velocity in cm/s (what the velocity loss and the selection compare)
        np.testing.assert_allclose(cines.phase[cine, 0, 8:24, 8:24] * cines.venc[cine], velocity, rtol=1e-5)


def test_training_refuses_a_scan_without_its_rr_interval():
    with pytest.raises(InputError, match="training needs the RR interval"):
        slice_cines_from_series([ring_series(20, 2.0).replace(rr_interval_ms=None)], crop_size=32)


def test_shards_of_velocity_phase_are_refused(tmp_path):
    """Shards written before the frame-interval fix store velocity phase: opening them says to prepare again."""
    write_shards(slice_cines_from_series([ring_series(20, 2.0)], crop_size=32), tmp_path / "shards")
    index = json.loads((tmp_path / "shards" / "shards.json").read_text())
    assert index["phase"] == {"displacement_per_frame_ms": 20.0}
    del index["phase"]
    (tmp_path / "shards" / "shards.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="prepare them again"):
        RecordShards.open(tmp_path / "shards")
