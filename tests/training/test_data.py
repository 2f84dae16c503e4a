"""The sample generator: indices, condition maps, cyclic triplets and consistent augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.geometry import crop_around
from keras_hdl.series import Series, velocity_to_phase
from keras_hdl.training.data import (
    PipelineOptions,
    SliceCines,
    apply_gamma,
    augment_images,
    augmentation_matrix,
    contrast_gamma,
    draw_interpolation_params,
    interpolation_dataset,
    interpolation_window,
    phase_dataset,
    slice_cines_from_series,
)

T = 20
SIZE = 16


def frame_coded_cines(num_cines: int = 2) -> SliceCines:
    """Cines whose every pixel of frame t holds a value that encodes t (and the cine)."""
    frame_code = (np.arange(T, dtype=np.float32) / T)[None, :, None, None]
    cine_code = (np.arange(num_cines, dtype=np.float32) / 100)[:, None, None, None]
    magnitude = np.broadcast_to(frame_code + cine_code, (num_cines, T, SIZE, SIZE)).copy()
    mask = np.broadcast_to((np.arange(T) % 2 == 0)[None, :, None, None], magnitude.shape).astype(np.float32)
    phase = np.repeat(magnitude[..., None], 3, axis=-1) * np.array([1, -1, 0.5], np.float32)
    venc = np.tile(np.float32([20, 20, 30]), (num_cines, 1))
    return SliceCines(
        magnitude, mask, phase, venc, np.full((num_cines, 2), 1.5, np.float32), np.full(num_cines, T, np.int32)
    )


def decode_frame(values: np.ndarray) -> np.ndarray:
    """Frame index from a frame-coded value (cine code < 1/T removed)."""
    return np.floor(np.asarray(values) * T + 0.05).astype(int) % T  # tolerant of float16 storage


def test_window_wraps_indices_and_keeps_condition_unwrapped():
    start, target, end, condition = interpolation_window(tf.constant(17), tf.constant(2), tf.constant(4), T)
    # τ = 17, k = 2, K = 4 → frames 17, 19 and 17 + 5 = 22 ≡ 2 (mod 20)
    assert (int(start), int(target), int(end)) == (17, 19, 2)
    np.testing.assert_allclose(condition.numpy(), [17 / 20, 19 / 20, 22 / 20])


def test_draws_cover_the_configured_ranges_and_are_seeded():
    draws = np.array(
        [[int(v) for v in draw_interpolation_params(tf.constant([s, 7], tf.int64), T, (2, 5))] for s in range(300)]
    )
    tau, k, gap = draws.T
    assert set(gap) == {2, 5}
    assert set(tau) == set(range(T))
    assert (k >= 1).all() and (k <= gap).all() and set(k[gap == 5]) == {1, 2, 3, 4, 5}
    again = [int(v) for v in draw_interpolation_params(tf.constant([3, 7], tf.int64), T, (2, 5))]
    assert again == draws[3].tolist()


def test_interpolation_samples_hold_the_frames_the_condition_names():
    cines = frame_coded_cines()
    options = PipelineOptions(k_values=(1, 3, 6), samples_per_cine=20, batch_size=4)
    for inputs, targets in interpolation_dataset(cines, options, seed=5).take(5):
        condition = inputs["condition"].numpy()
        positions = np.round(condition * T).astype(int)
        gap = positions[:, 2] - positions[:, 0] - 1
        k = positions[:, 1] - positions[:, 0]
        assert set(gap) <= {1, 3, 6} and (k >= 1).all() and (k <= gap).all()
        start, end = decode_frame(inputs["magnitudes"][:, 0, 0, 0]), decode_frame(inputs["magnitudes"][:, 0, 0, 1])
        target = decode_frame(targets["magnitude"][:, 0, 0, 0])
        np.testing.assert_array_equal(start, positions[:, 0] % T)
        np.testing.assert_array_equal(end, positions[:, 2] % T)
        np.testing.assert_array_equal(target, positions[:, 1] % T)
        # masks come from the same frames: frame t has mask (t even)
        np.testing.assert_array_equal(inputs["masks"][:, 0, 0, 0], (start % 2 == 0))
        np.testing.assert_array_equal(targets["mask"][:, 0, 0, 0], (target % 2 == 0))
        assert inputs["magnitudes"].shape == (4, SIZE, SIZE, 2) and targets["mask"].shape == (4, SIZE, SIZE, 1)


def test_phase_samples_are_cyclic_triplets_with_their_phase():
    cines = frame_coded_cines()
    options = PipelineOptions(samples_per_cine=40, batch_size=8)
    seen = set()
    for inputs, targets in phase_dataset(cines, options, seed=1).take(10):
        frames = decode_frame(inputs["magnitudes"][:, 0, 0, :].numpy())
        centre = frames[:, 1]
        np.testing.assert_array_equal(frames[:, 0], (centre - 1) % T)
        np.testing.assert_array_equal(frames[:, 2], (centre + 1) % T)
        np.testing.assert_array_equal(decode_frame(targets["phase"][:, 0, 0, 0]), centre)
        np.testing.assert_allclose(targets["phase"][:, 0, 0, 1], -targets["phase"][:, 0, 0, 0])
        seen |= set(centre.tolist())
    assert {0, T - 1} <= seen  # the wrap-around frames are drawn too


def test_five_neighbour_phase_samples_carry_their_frames_and_cycle_position():
    cines = frame_coded_cines()
    options = PipelineOptions(samples_per_cine=40, batch_size=8, neighbours=5, cycle_position=True)
    for inputs, targets in phase_dataset(cines, options, seed=2).take(5):
        frames = decode_frame(inputs["magnitudes"][:, 0, 0, :].numpy())
        centre = frames[:, 2]
        for offset in (-2, -1, 1, 2):
            np.testing.assert_array_equal(frames[:, 2 + offset], (centre + offset) % T)
        np.testing.assert_allclose(inputs["position"].numpy()[:, 0], centre / T, rtol=1e-6)
        np.testing.assert_array_equal(decode_frame(targets["phase"][:, 0, 0, 0]), centre)
        np.testing.assert_array_equal(targets["venc"].numpy(), np.broadcast_to(cines.venc[0], (8, 3)))


def test_same_seed_and_epoch_give_the_same_batches_another_epoch_differs():
    cines = frame_coded_cines()
    options = PipelineOptions(samples_per_cine=8, batch_size=4)

    def conditions(epoch):
        return np.concatenate([x["condition"].numpy() for x, _ in interpolation_dataset(cines, options, 3, epoch)])

    np.testing.assert_array_equal(conditions(0), conditions(0))
    assert not np.array_equal(conditions(0), conditions(1))


def test_k_larger_than_the_cycle_allows_is_rejected():
    with pytest.raises(InputError, match="frames per cycle"):
        interpolation_dataset(frame_coded_cines(), PipelineOptions(k_values=(19,)))


def vector_field_cine(kind: str, size: int = 33):
    """A (size, size, 3) normalised phase holding a radial-outward or CCW-as-displayed field."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = cols - (size - 1) / 2, rows - (size - 1) / 2
    vx, vy = (dx, dy) if kind == "radial" else (dy, -dx)  # CCW as displayed with y down
    return np.stack([vx, vy, np.full_like(vx, 0.3)], axis=-1) / size


@pytest.mark.parametrize("kind", ["radial", "circumferential"])
def test_augmentation_transforms_velocity_vectors_with_the_image(kind):
    phase = tf.constant(vector_field_cine(kind))
    image = tf.zeros((33, 33, 1))
    venc = tf.constant([20.0, 20.0, 30.0])
    interior = (slice(8, -8), slice(8, -8))
    for seed in range(6):
        matrix = augmentation_matrix(tf.constant([seed, 0], tf.int64), max_rotation_deg=15, flips=True)
        _, _, out = augment_images(image, image, phase, venc, matrix)
        flipped = np.linalg.det(matrix.numpy()) < 0
        # A radial field is unchanged by rotations and flips; a rotational one by rotations only,
        # and a flip turns counter-clockwise into clockwise.
        expected = phase.numpy() * (-1 if (kind == "circumferential" and flipped) else 1)
        expected[..., 2] = 0.3 / 33
        np.testing.assert_allclose(out.numpy()[interior], expected[interior], atol=2e-3)


def test_without_flips_every_augmentation_is_a_rotation():
    """flips: false keeps the anatomy's handedness: det A = +1 for every draw (a mirror has −1)."""
    dets = [
        np.linalg.det(augmentation_matrix(tf.constant([seed, 1], tf.int64), max_rotation_deg=180, flips=False).numpy())
        for seed in range(12)
    ]
    np.testing.assert_allclose(dets, 1.0, atol=1e-5)
    with_flips = [
        np.linalg.det(augmentation_matrix(tf.constant([seed, 1], tf.int64), max_rotation_deg=180, flips=True).numpy())
        for seed in range(12)
    ]
    assert min(with_flips) == pytest.approx(-1.0, abs=1e-5)


def test_contrast_gamma_by_hand():
    """m = 0 is mid-grey: ((0 + 1) / 2)^2 = 0.25 → −0.5; background (−1) and the brightest pixel (1) stay put."""
    magnitude = tf.constant([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(apply_gamma(magnitude, tf.constant(2.0)).numpy(), [-1.0, -0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(apply_gamma(magnitude, tf.constant(0.5)).numpy(), [-1.0, np.sqrt(0.5) * 2 - 1, 1.0])
    gammas = np.array([float(contrast_gamma(tf.constant([seed, 3], tf.int64), 2.0)) for seed in range(200)])
    assert 0.5 <= gammas.min() < 0.6 and 1.7 < gammas.max() <= 2.0  # log-uniform over [1/2, 2]
    assert 0.4 < np.mean(gammas < 1) < 0.6
    assert float(contrast_gamma(tf.constant([0, 3], tf.int64), 1.0)) == 1.0


@pytest.mark.parametrize("module", ["phase", "interpolation"])
def test_contrast_augmentation_changes_magnitudes_by_one_gamma_and_leaves_phase(module):
    cines = frame_coded_cines()
    plain = PipelineOptions(batch_size=4, augment=True, max_rotation_deg=0.0, flips=False, neighbours=3)
    contrast = PipelineOptions(
        batch_size=4, augment=True, max_rotation_deg=0.0, flips=False, neighbours=3, max_gamma=2.0
    )
    make = phase_dataset if module == "phase" else interpolation_dataset
    (inputs, targets), (gamma_inputs, gamma_targets) = (next(iter(make(cines, o, seed=3))) for o in (plain, contrast))
    before, after = inputs["magnitudes"].numpy(), gamma_inputs["magnitudes"].numpy()
    for sample in range(4):  # every frame of a sample through the same γ, recovered from one pixel
        unit_before, unit_after = (before[sample] + 1) / 2, (after[sample] + 1) / 2
        gamma = np.log(unit_after[0, 0, 0]) / np.log(unit_before[0, 0, 0])
        assert 0.5 - 1e-4 <= gamma <= 2.0 + 1e-4
        np.testing.assert_allclose(unit_after, unit_before**gamma, rtol=1e-4, atol=1e-6)
        if module == "interpolation":
            target_before = (targets["magnitude"].numpy()[sample] + 1) / 2
            np.testing.assert_allclose(
                (gamma_targets["magnitude"].numpy()[sample] + 1) / 2, target_before**gamma, rtol=1e-4
            )
    assert not np.allclose(before, after)
    if module == "phase":
        np.testing.assert_array_equal(gamma_targets["phase"].numpy(), targets["phase"].numpy())


def test_flip_moves_pixels_and_negates_the_flipped_component():
    image = np.zeros((17, 17, 1), np.float32)
    image[4, 12] = 1.0  # a dot right of and above the centre (8, 8)
    phase = np.zeros((17, 17, 3), np.float32)
    phase[..., 0], phase[..., 1] = 0.5, 0.25
    flip_x = tf.constant([[-1.0, 0.0], [0.0, 1.0]])
    out_image, out_mask, out_phase = augment_images(
        tf.constant(image), tf.constant(image), tf.constant(phase), tf.constant([20.0, 20.0, 30.0]), flip_x
    )
    assert out_image.numpy()[4, 4, 0] == pytest.approx(1.0) and out_mask.numpy()[4, 4, 0] == 1
    np.testing.assert_allclose(out_phase.numpy()[8, 8], [-0.5, 0.25, 0.0])


def test_slice_cines_crop_around_the_lv_and_normalise():
    magnitude = np.full((4, 1, 40, 40), 50.0, np.float32)
    magnitude[:, 0, 25:31, 5:11] = 100.0
    masks = np.zeros((4, 1, 40, 40), bool)
    masks[:, 0, 26:30, 6:10] = True  # LV centred at row 27.5, column 7.5: near the left edge
    velocity = np.zeros((4, 1, 3, 40, 40), np.float32)
    velocity[:, :, 2] = 15.0
    # 4 frames at the reference 20 ms apart: the phase is kept at the reference venc as it is
    series = Series(magnitude, velocity_to_phase(velocity, (20, 20, 30)), masks=masks, rr_interval_ms=80.0)
    cines = slice_cines_from_series([series], crop_size=24)
    assert cines.magnitude.shape == (1, 4, 24, 24) and cines.phase.shape == (1, 4, 24, 24, 3)
    # the ring sits in the middle of the crop; the padded columns are background (−1)
    assert cines.mask[0, 0, 10:14, 10:14].all() and cines.mask.sum() == 4 * 16
    assert (cines.magnitude[0, :, :, 0] == -1).all()
    np.testing.assert_allclose(cines.phase[0, 0, 12, 12], [0, 0, 0.5], atol=1e-3)


def test_crop_pads_with_the_fill_value():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(crop_around(image, (0, 0), 2, fill=-1), [[-1, -1], [-1, 0]])


def test_tfrecord_shards_round_trip_and_stream_the_same_kind_of_samples(tmp_path):
    from keras_hdl.training.records import RecordShards, write_shards

    cines = frame_coded_cines(num_cines=3)
    files = write_shards(cines, tmp_path / "shards", cines_per_shard=2)
    assert [f.name for f in files] == ["cines-00000-of-00002.tfrecord", "cines-00001-of-00002.tfrecord"]
    shards = RecordShards.open(tmp_path / "shards")
    loaded = shards.load()
    np.testing.assert_allclose(loaded.magnitude, cines.magnitude, atol=1e-3)  # float16 on disk
    np.testing.assert_array_equal(loaded.mask, cines.mask)
    np.testing.assert_allclose(loaded.phase, cines.phase, atol=0.5 / 2048)  # raw phase kept to the level
    np.testing.assert_array_equal(loaded.venc, cines.venc)
    np.testing.assert_array_equal(loaded.pixel_spacing, cines.pixel_spacing)

    options = PipelineOptions(k_values=(2,), samples_per_cine=4, batch_size=3, shuffle_buffer=16)
    batches = list(interpolation_dataset(shards, options, seed=2, epoch=0))
    assert len(batches) == 4  # 3 cines × 4 samples / batch 3
    for inputs, targets in batches:
        positions = np.round(inputs["condition"].numpy() * T).astype(int)
        np.testing.assert_array_equal(decode_frame(targets["magnitude"][:, 0, 0, 0]), positions[:, 1] % T)
    again = list(interpolation_dataset(shards, options, seed=2, epoch=0))
    np.testing.assert_array_equal(batches[0][0]["condition"], again[0][0]["condition"])


def test_record_folder_without_index_is_rejected(tmp_path):
    from keras_hdl.training.records import RecordShards

    with pytest.raises(InputError, match="keras-hdl prepare"):
        RecordShards.open(tmp_path)
