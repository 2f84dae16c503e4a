"""The tf.data pipeline: slice cines in, training samples for both modules out.

A *slice cine* is one slice of one series over the whole cycle, cropped around the
LV and normalised (docs/design.md §3.1), channels last:

- ``magnitude`` (T, C, C) float32 in [−1, 1];
- ``mask`` (T, C, C) float32 in {0, 1};
- ``phase`` (T, C, C, 3) float32 in [−1, 1] (normalised x, y, z phase);
- ``venc`` (3,) float32 cm/s (needed to rotate velocity vectors consistently): the venc every
  cine's phase is re-expressed at, :func:`~keras_hdl.series.displacement_venc` of
  :data:`~keras_hdl.series.REFERENCE_VENC_CM_S` and the cine's frame interval RR / T (the networks
  see neither a scan's venc nor its frame interval, only how far the wall moves between frames,
  so they learn displacement per frame, not one protocol's phase); phase × venc is still cm/s;
- ``pixel_spacing`` (2,) float32 mm (row, column) of the crop's pixels (the model grid);
- ``frames`` () int32: the cine's frames per cycle T. Cines of different T are stacked
  padded to the longest; a cine's samples only ever index its own T frames.

Every cine is cropped on one *model grid* (the training data's median pixel spacing),
exactly as synthesis crops a scan (:class:`keras_hdl.synthesis.field_of_view.LVWindow`),
so scans of any pixel spacing train one network.

Samples for the temporal interpolator (docs/design.md §2.1), frame indices wrapping modulo T::

    inputs  = {"magnitudes": (C, C, 2) [M_τ, M_τ+K+1], "masks": (C, C, 2) [S_τ, S_τ+K+1],
               "condition": (3,) [τ/T, (τ+k)/T, (τ+K+1)/T]}
    targets = {"magnitude": (C, C, 1) M_τ+k, "mask": (C, C, 1) S_τ+k}

The condition holds *unwrapped* positions (the last may exceed 1 when the gap runs
into the next cycle), so k/(K+1) = (c1 − c0) / (c2 − c0) for every gap.

Samples for phase synthesis (docs/design.md §2.2), cyclic::

    inputs  = {"magnitudes": (C, C, n) [M_t−1, M_t, M_t+1] (n = 3) or [M_t−2, …, M_t+2] (n = 5),
               "position": (1,) t/T (only with ``cycle_position``)}
    targets = {"phase": (C, C, 3) normalised (x, y, z) of frame t, "mask": (C, C, 1) S_t,
               "venc": (3,) cm/s, "pixel_spacing": (2,) mm (row, column), for the velocity loss}

T is each cine's own frame count (scans of 30 to 60 frames train together).
Randomness is stateless and derived from ``(seed, epoch)``, so an epoch's samples
are the same whether a run was resumed or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.metrics import MASK_THRESHOLD
from keras_hdl.phase_inputs import neighbour_offsets
from keras_hdl.series import REFERENCE_VENC_CM_S, Series, displacement_venc, rescale_phase_venc
from keras_hdl.synthesis.field_of_view import LVWindow
from keras_hdl.viewing import canonical_view

DEFAULT_K_VALUES = (1, 2, 3, 4, 5, 6)


def parallel_map(dataset: tf.data.Dataset, function) -> tf.data.Dataset:
    """``dataset.map(function)`` on parallel calls, traced as written: the pipeline's functions branch only
    on Python values, so AutoGraph's conversion (redone for every epoch's dataset) would only cost time."""
    return dataset.map(tf.autograph.experimental.do_not_convert(function), num_parallel_calls=tf.data.AUTOTUNE)


def epoch_order(num_cines: int, samples_per_cine: int, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled cine indices (each cine ``samples_per_cine`` times) and one stateless seed (2,) per sample."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(np.repeat(np.arange(num_cines), samples_per_cine)).astype(np.int32)
    seeds = rng.integers(0, 2**31 - 1, size=(order.size, 2), dtype=np.int64)
    return order, seeds


@dataclasses.dataclass(frozen=True)
class SliceCines:
    """N slice cines stacked, padded to the longest T (see module docstring for the per-cine shapes)."""

    magnitude: np.ndarray  # (N, T, C, C)
    mask: np.ndarray  # (N, T, C, C)
    phase: np.ndarray  # (N, T, C, C, 3)
    venc: np.ndarray  # (N, 3)
    pixel_spacing: np.ndarray  # (N, 2)
    frames: np.ndarray  # (N,) int32, each cine's T

    @property
    def num_frames(self) -> int:
        """The longest cine's frames per cycle (the arrays' T)."""
        return self.magnitude.shape[1]

    @property
    def fewest_frames(self) -> int:
        """The shortest cine's frames per cycle (what bounds K)."""
        return int(self.frames.min())

    @property
    def num_cines(self) -> int:
        return self.magnitude.shape[0]

    def stream(self, samples_per_cine: int, seed: int, epoch: int) -> tf.data.Dataset:
        """(cine dict, sample seed) pairs in a shuffled order, gathering cines from memory by index."""
        order, seeds = epoch_order(self.num_cines, samples_per_cine, seed, epoch)
        arrays = {name: tf.constant(value) for name, value in dataclasses.asdict(self).items()}

        def gather(index, sample_seed):
            return {name: array[index] for name, array in arrays.items()}, sample_seed

        return parallel_map(tf.data.Dataset.from_tensor_slices((order, seeds)), gather)


def median_spacing(series_list: Sequence[Series]) -> tuple[float, float]:
    """The median (row, column) pixel spacing of the series, mm: the model grid of training."""
    row, col = np.median([series.pixel_spacing for series in series_list], axis=0)
    return float(row), float(col)


def _padded(cines: list[np.ndarray], frames: int, fill: float) -> np.ndarray:
    """Stack (T_i, ...) cines into (N, frames, ...), padding each past its T_i with ``fill``."""
    out = np.full((len(cines), frames, *cines[0].shape[1:]), fill, np.float32)
    for index, cine in enumerate(cines):
        out[index, : cine.shape[0]] = cine
    return out


def slice_cines_from_series(
    series_list: Sequence[Series], crop_size: int, model_spacing: tuple[float, float] | None = None
) -> SliceCines:
    """Normalise every slice of every series and crop it around its LV on the model grid.

    Every series needs phase and masks. ``model_spacing`` (row, column) mm defaults to the
    series' median spacing; a series at another spacing is resampled onto it. A series seen from the
    apex is mirrored into the view from the base first (:func:`keras_hdl.viewing.canonical_view`).
    """
    if not series_list:
        raise InputError("no series to train on: the data source holds no usable series")
    model_spacing = median_spacing(series_list) if model_spacing is None else model_spacing
    magnitudes, masks, phases, vencs, spacings, frames = [], [], [], [], [], []
    for series in series_list:
        source = series.provenance.get("scan", series.provenance.get("source", "a series"))
        if series.masks is None or series.phase is None:
            raise InputError(f"{source}: training needs magnitude, phase and myocardium masks; this series lacks some")
        series, _ = canonical_view(series)  # every cine seen from the base, as synthesis shows them to the networks
        if series.frame_interval_ms is None:
            raise InputError(
                f"{source}: training needs the RR interval (the time between frames is RR / T, and the wall's "
                "motion between frames is what the phase network reads); give the series its rr_interval_ms"
            )
        phase_venc = displacement_venc(REFERENCE_VENC_CM_S, series.frame_interval_ms)
        magnitude = series.normalized_magnitude()
        phase = series.normalized_phase()  # (T, S, 3, H, W)
        for slice_index in range(series.num_slices):
            slice_masks = series.masks[:, slice_index]
            window = LVWindow.around(slice_masks, series.pixel_spacing, model_spacing, crop_size)
            magnitudes.append(window.crop(magnitude[:, slice_index], fill=-1.0))
            masks.append(window.crop(slice_masks.astype(np.float32), fill=0.0) >= MASK_THRESHOLD)
            cropped_phase = np.moveaxis(window.crop(phase[:, slice_index], fill=0.0), 1, -1)  # (T, C, C, 3)
            phases.append(rescale_phase_venc(cropped_phase, series.venc, phase_venc))
            vencs.append(phase_venc)
            spacings.append(np.asarray(model_spacing, np.float32))
            frames.append(series.num_frames)
    longest = max(frames)
    return SliceCines(
        magnitude=_padded(magnitudes, longest, -1.0),
        mask=_padded(masks, longest, 0.0),
        phase=_padded(phases, longest, 0.0),
        venc=np.stack(vencs),
        pixel_spacing=np.stack(spacings),
        frames=np.asarray(frames, np.int32),
    )


# ------------------------------------------------------------------ sampling
def interpolation_window(tau: tf.Tensor, k: tf.Tensor, gap: tf.Tensor, num_frames: tf.Tensor | int):
    """Frame indices and condition of one interpolation sample.

    Args:
        tau: first kept frame; k: offset of the target (1 ≤ k ≤ K); gap: K, frames dropped.

    Returns:
        ``(start, target, end, condition)``: wrapped indices τ, (τ+k) mod T, (τ+K+1) mod T
        and the (3,) float32 condition [τ/T, (τ+k)/T, (τ+K+1)/T] (unwrapped).
    """
    positions = tf.stack([tau, tau + k, tau + gap + 1])
    condition = tf.cast(positions, tf.float32) / tf.cast(num_frames, tf.float32)
    wrapped = positions % num_frames
    return wrapped[0], wrapped[1], wrapped[2], condition


def draw_interpolation_params(seed: tf.Tensor, num_frames: tf.Tensor | int, k_values: Sequence[int]):
    """Draw (τ, k, K) with K uniform over ``k_values``, τ uniform in [0, T), k uniform in [1, K]."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    k_table = tf.constant(k_values, tf.int32)
    gap = tf.gather(k_table, tf.random.stateless_uniform([], seeds[0], 0, len(k_values), tf.int32))
    tau = tf.random.stateless_uniform([], seeds[1], 0, num_frames, tf.int32)
    k = tf.random.stateless_uniform([], seeds[2], 1, gap + 1, tf.int32)
    return tau, k, gap


def _interpolation_sample(cine: dict, seed: tf.Tensor, k_values: Sequence[int]):
    num_frames = cine["frames"]
    tau, k, gap = draw_interpolation_params(seed, num_frames, k_values)
    start, target, end, condition = interpolation_window(tau, k, gap, num_frames)
    magnitude = cine["magnitude"]
    mask = cine["mask"]
    inputs = {
        "magnitudes": tf.stack([magnitude[start], magnitude[end]], axis=-1),
        "masks": tf.stack([mask[start], mask[end]], axis=-1),
        "condition": condition,
    }
    targets = {"magnitude": magnitude[target][..., None], "mask": mask[target][..., None]}
    return inputs, targets


def _phase_sample(cine: dict, seed: tf.Tensor, neighbours: int, cycle_position: bool):
    num_frames = cine["frames"]
    frame = tf.random.stateless_uniform([], seed, 0, num_frames, tf.int32)
    frames = (frame + tf.constant(neighbour_offsets(neighbours), tf.int32)) % num_frames
    inputs = {"magnitudes": tf.transpose(tf.gather(cine["magnitude"], frames), [1, 2, 0])}
    if cycle_position:
        inputs["position"] = tf.reshape(tf.cast(frame, tf.float32) / tf.cast(num_frames, tf.float32), (1,))
    targets = {
        "phase": cine["phase"][frame],
        "mask": cine["mask"][frame][..., None],
        "venc": cine["venc"],
        "pixel_spacing": cine["pixel_spacing"],
    }
    return inputs, targets


# -------------------------------------------------------------- augmentation
def augmentation_matrix(seed: tf.Tensor, max_rotation_deg: float, flips: bool) -> tf.Tensor:
    """A random 2×2 map A of image (x, y) offsets: optional x/y flips then a small rotation.

    Positions and velocity vectors both transform as v' = A v.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    angle = tf.random.stateless_uniform([], seeds[0], -1.0, 1.0) * np.deg2rad(max_rotation_deg)
    cos, sin = tf.cos(angle), tf.sin(angle)
    rotation = tf.reshape(tf.stack([cos, -sin, sin, cos]), (2, 2))
    if not flips:
        return rotation
    signs = tf.where(tf.random.stateless_uniform([2], seeds[1]) < 0.5, -1.0, 1.0)
    return rotation @ tf.linalg.diag(signs)


def _warp(images: tf.Tensor, matrix: tf.Tensor, interpolation: str) -> tf.Tensor:
    """Warp (H, W, C) images so that the content at offset p from the centre moves to A p."""
    import keras

    height, width = images.shape[0], images.shape[1]
    centre = tf.constant([(width - 1) / 2.0, (height - 1) / 2.0])
    inverse = tf.linalg.inv(matrix)
    offset = centre - tf.linalg.matvec(inverse, centre)
    transform = tf.stack([inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1], 0.0, 0.0])
    return keras.ops.image.affine_transform(
        images, transform, interpolation=interpolation, fill_mode="nearest", data_format="channels_last"
    )


def augment_images(
    images: tf.Tensor, masks: tf.Tensor, phase: tf.Tensor | None, venc: tf.Tensor | None, matrix: tf.Tensor
):
    """Apply one map A to images (H, W, Ci), masks (H, W, Cm) and phase (H, W, 3) alike.

    The in-plane velocity vectors are transformed too: (vx, vy)' = A (vx, vy), in cm/s
    (so unequal x/y venc are handled), then re-normalised and clipped to [−1, 1].
    """
    images = _warp(images, matrix, "bilinear")
    masks = tf.round(_warp(masks, matrix, "nearest"))
    if phase is None:
        return images, masks, None
    phase = _warp(phase, matrix, "bilinear")
    in_plane = phase[..., :2] * venc[:2]
    rotated = tf.einsum("ij,hwj->hwi", matrix, in_plane) / venc[:2]
    phase = tf.concat([tf.clip_by_value(rotated, -1.0, 1.0), phase[..., 2:]], axis=-1)
    return images, masks, phase


def contrast_gamma(seed: tf.Tensor, max_gamma: float) -> tf.Tensor:
    """A random γ, log-uniform in [1 / max_gamma, max_gamma] (max_gamma 1: γ = 1)."""
    log_gamma = tf.random.stateless_uniform([], seed, -1.0, 1.0) * float(np.log(max_gamma))
    return tf.exp(log_gamma)


def apply_gamma(magnitude: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """A contrast change of normalised magnitude in [−1, 1]: ((m + 1) / 2)^γ mapped back; −1 and 1 stay put.

    γ < 1 brightens mid-grey tissue (myocardium, liver) towards the blood pool, γ > 1 darkens it: a
    stand-in for the contrast differences between sequences and scanners.
    """
    unit = tf.clip_by_value((magnitude + 1.0) / 2.0, 0.0, 1.0)
    return 2.0 * tf.pow(unit, gamma) - 1.0


def _augment_contrast(inputs, targets, sample_seed, max_gamma):
    """One γ for a sample's input magnitudes and, for the interpolator, its target magnitude."""
    if max_gamma <= 1.0:
        return inputs, targets
    gamma = contrast_gamma(tf.random.experimental.stateless_fold_in(sample_seed, 2), max_gamma)
    inputs = {**inputs, "magnitudes": apply_gamma(inputs["magnitudes"], gamma)}
    if "magnitude" in targets:
        targets = {**targets, "magnitude": apply_gamma(targets["magnitude"], gamma)}
    return inputs, targets


def _augment_interpolation(inputs, targets, seed, max_rotation_deg, flips):
    matrix = augmentation_matrix(seed, max_rotation_deg, flips)
    images = tf.concat([inputs["magnitudes"], targets["magnitude"]], axis=-1)
    masks = tf.concat([inputs["masks"], targets["mask"]], axis=-1)
    images, masks, _ = augment_images(images, masks, None, None, matrix)
    inputs = {**inputs, "magnitudes": images[..., :2], "masks": masks[..., :2]}
    return inputs, {"magnitude": images[..., 2:], "mask": masks[..., 2:]}


def _augment_phase(inputs, targets, seed, max_rotation_deg, flips):
    matrix = augmentation_matrix(seed, max_rotation_deg, flips)
    images, masks, phase = augment_images(
        inputs["magnitudes"], targets["mask"], targets["phase"], targets["venc"], matrix
    )
    return {**inputs, "magnitudes": images}, {**targets, "phase": phase, "mask": masks}


# ------------------------------------------------------------------ datasets
@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """How samples are drawn: K set, samples per cine per epoch, batch, augmentation, shuffling."""

    k_values: tuple[int, ...] = DEFAULT_K_VALUES
    samples_per_cine: int = 16
    batch_size: int = 8
    augment: bool = False
    max_rotation_deg: float = 10.0
    flips: bool = True
    max_gamma: float = 1.0  # contrast augmentation: γ log-uniform in [1 / max_gamma, max_gamma]; 1 = off
    shuffle_buffer: int = 1024
    neighbours: int = 3  # phase samples: magnitude frames around frame t (3 or 5)
    cycle_position: bool = False  # phase samples: also give t/T

    def __post_init__(self) -> None:
        if not self.k_values or min(self.k_values) < 1:
            raise InputError(f"k_values: need one or more K >= 1 (frames dropped), got {self.k_values}")
        if self.samples_per_cine < 1 or self.batch_size < 1:
            raise InputError("samples_per_cine and batch_size must be >= 1")


class CineSource(Protocol):
    """Where slice cines come from: :class:`SliceCines` in memory, or TFRecord shards on disk."""

    @property
    def num_frames(self) -> int: ...

    @property
    def fewest_frames(self) -> int: ...

    @property
    def num_cines(self) -> int: ...

    def stream(self, samples_per_cine: int, seed: int, epoch: int) -> tf.data.Dataset: ...


def _batched(source: CineSource, sample_fn, options: PipelineOptions, seed: int, epoch: int) -> tf.data.Dataset:
    stream = source.stream(options.samples_per_cine, seed, epoch)
    samples = parallel_map(stream, sample_fn)
    if not isinstance(source, SliceCines):  # streamed cines arrive in file order: mix their samples
        samples = samples.shuffle(options.shuffle_buffer, seed=seed * 100_003 + epoch)
    return samples.batch(options.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def interpolation_dataset(
    source: CineSource, options: PipelineOptions, seed: int = 0, epoch: int = 0
) -> tf.data.Dataset:
    """Batches of interpolator samples (module docstring) for one epoch."""
    num_frames = source.fewest_frames
    if max(options.k_values) + 1 >= num_frames:
        raise InputError(
            f"K = {max(options.k_values)} frames dropped needs more than {max(options.k_values) + 1} frames per cycle; "
            f"the shortest cine has {num_frames}. Lower k_values in the config."
        )

    def sample(cine, sample_seed):
        inputs, targets = _interpolation_sample(cine, sample_seed, options.k_values)
        if options.augment:
            aug_seed = tf.random.experimental.stateless_fold_in(sample_seed, 1)
            inputs, targets = _augment_interpolation(inputs, targets, aug_seed, options.max_rotation_deg, options.flips)
            inputs, targets = _augment_contrast(inputs, targets, sample_seed, options.max_gamma)
        return inputs, targets

    return _batched(source, sample, options, seed, epoch)


def phase_dataset(source: CineSource, options: PipelineOptions, seed: int = 0, epoch: int = 0) -> tf.data.Dataset:
    """Batches of phase-synthesis samples (module docstring) for one epoch."""

    def sample(cine, sample_seed):
        inputs, targets = _phase_sample(cine, sample_seed, options.neighbours, options.cycle_position)
        if options.augment:
            aug_seed = tf.random.experimental.stateless_fold_in(sample_seed, 1)
            inputs, targets = _augment_phase(inputs, targets, aug_seed, options.max_rotation_deg, options.flips)
            inputs, targets = _augment_contrast(inputs, targets, sample_seed, options.max_gamma)
        return inputs, targets

    return _batched(source, sample, options, seed, epoch)
