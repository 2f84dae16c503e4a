"""Digital-twin synthesis (docs/design.md §2): low-frame-rate magnitude + kept masks → full 3Dir MVM series.

Input convention
----------------
A *low-frame-rate series* holds only the kept frames 0, K+1, 2(K+1), … of a cycle of T
frames (so its frame i is frame i·(K+1) of the cycle), with the myocardium mask of every
kept frame and slice. T defaults to (kept frames) · (K+1); pass ``frames`` when the last
gap is shorter (e.g. 8 kept frames at K = 6 for T = 50). :func:`downsample` makes one
from a full series (for evaluation and demos).

Steps
-----
0. A scan seen from the apex is mirrored into the networks' view (seen from the base,
   :func:`keras_hdl.viewing.canonical_view`) for steps 1-3 and every frame of the twin is mirrored back.
1. Per slice, an :class:`~keras_hdl.synthesis.field_of_view.LVWindow` crops the LV from
   the normalised magnitude and the masks (resampled to the networks' spacing if needed).
2. :func:`synthesize_crops`: the interpolator fills every dropped frame of every slice in
   one batched request (conditioned on absolute positions, so the last, shorter gap needs
   nothing special; a network split into encoder and decoder encodes each gap's kept pair once
   and decodes each dropped frame), then the phase network synthesises the three phase images of every
   frame from its cyclic neighbouring magnitude frames in one batched request. Frame (slice s, frame t)
   gets background seed (seed, s·T + t) (:func:`frame_seeds`), so the same seed gives the
   same twin, locally, on TF Serving, and in the exported ``twin`` graph.
3. Back in the full field of view: kept frames keep the input's magnitude and masks
   unchanged. Inside the crop's footprint, dropped frames get the interpolator's magnitude
   (de-normalised with the input's scale) and mask (probability > 0.5), and every frame the
   synthesised phase. Outside it, dropped frames' magnitude is linearly interpolated between
   the kept frames, masks are zero and the phase is background noise drawn from the phase
   network's fitted Gaussian N(μ, σ) (seeded by ``seed``), like the composite's background.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from keras_hdl import __version__
from keras_hdl.dicom.deidentify import PROVENANCE_PREFIX, allowed_acquisition
from keras_hdl.errors import InputError
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.interpolation.plan import Interpolator, gaps, interpolate_gaps, kept_frames, validate_k
from keras_hdl.metrics import MASK_THRESHOLD
from keras_hdl.series import Series, denormalize_phase, magnitude_scale, normalize_magnitude
from keras_hdl.synthesis.field_of_view import LVWindow
from keras_hdl.synthesis.networks import PhaseSynthesizer, TwinModels
from keras_hdl.viewing import canonical_view, mirror_images

MAX_SEED = 2**31 - 1
DEFAULT_METHOD = "HDL"


@dataclasses.dataclass(frozen=True)
class CropTwin:
    """A twin on the networks' crops: S slices, T frames, C × C pixels, normalised.

    magnitude (S, T, C, C) in [−1, 1]; mask (S, T, C, C) probability in [0, 1] (kept frames: the
    input masks); phase (S, T, C, C, 3) normalised x, y, z phase in [−1, 1].
    """

    magnitude: np.ndarray
    mask: np.ndarray
    phase: np.ndarray


@dataclasses.dataclass(frozen=True)
class GapTargets:
    """Every dropped frame of a cycle: its index, the kept frames around it (as indices into the kept
    frames), and the interpolator's condition (start, target, end) / T, float32."""

    targets: np.ndarray  # (M,) frame indices
    start_index: np.ndarray  # (M,) into the kept frames
    end_index: np.ndarray  # (M,) into the kept frames (the last gap wraps to 0)
    positions: np.ndarray  # (M, 3) float32


def gap_targets(frames: int, k: int) -> GapTargets:
    """The dropped frames of a cycle of ``frames`` frames with ``k`` dropped between kept ones."""
    plan = gaps(frames, k)
    period = k + 1
    num_kept = len(kept_frames(frames, k))
    rows = [(gap.start, target, gap.end) for gap in plan for target in gap.targets]
    table = np.asarray(rows, np.int64).reshape(-1, 3)
    start_index = table[:, 0] // period
    return GapTargets(
        targets=table[:, 1],
        start_index=start_index,
        end_index=(start_index + 1) % num_kept,
        positions=table.astype(np.float32) / np.float32(frames),
    )


def fill_gaps(
    kept_magnitudes: np.ndarray, kept_masks: np.ndarray, plan: GapTargets, interpolator: Interpolator
) -> tuple[np.ndarray, np.ndarray]:
    """Every dropped frame of every slice in one :func:`~keras_hdl.interpolation.plan.interpolate_gaps` call
    (each slice's gaps as kept pairs, so a split network encodes each pair once).

    Kept magnitudes and masks (S, N, C, C) → the targets' magnitude and mask probability (S, M, C, C),
    M = ``plan.targets.size``.
    """
    slices, _, size = kept_magnitudes.shape[:3]
    starts, first_target, gap = np.unique(plan.start_index, return_index=True, return_inverse=True)
    ends = plan.end_index[first_target]

    def gathered(array: np.ndarray, index: np.ndarray) -> np.ndarray:  # (S, N, C, C) → (S·G, C, C)
        return array[:, index].reshape(-1, size, size)

    pairs = (
        gathered(kept_magnitudes, starts),
        gathered(kept_magnitudes, ends),
        gathered(kept_masks, starts),
        gathered(kept_masks, ends),
    )
    slice_gap = (np.arange(slices)[:, None] * starts.size + gap.reshape(-1)).reshape(-1)  # (S·M,) into the pairs
    magnitude, mask = interpolate_gaps(interpolator, pairs, slice_gap, np.tile(plan.positions, (slices, 1)))
    shape = (slices, plan.targets.size, size, size)
    return np.asarray(magnitude).reshape(shape), np.asarray(mask).reshape(shape)


def frame_seeds(seed: int, slices: int, frames: int) -> np.ndarray:
    """(S·T, 2) int32 background seeds, slice-major: frame t of slice s gets (seed, s·T + t)."""
    index = np.arange(slices * frames, dtype=np.int32)
    return np.stack([np.full_like(index, seed), index], axis=-1)


def validate_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed: expected an integer in [0, {MAX_SEED}], got {seed!r}")
    return int(seed)


def synthesize_crops(
    kept_magnitudes: np.ndarray,
    kept_masks: np.ndarray,
    k: int,
    frames: int,
    seed: int,
    interpolator: Interpolator,
    phase: PhaseSynthesizer,
) -> CropTwin:
    """The twin of S slices' LV crops: kept magnitudes and masks (S, N, C, C) → :class:`CropTwin` of T frames.

    One interpolator request for every dropped frame of every slice, then one phase request
    for every frame of every slice (each split into batches by the networks' predictors).
    """
    validate_k(k, frames)
    slices, num_kept, size = kept_magnitudes.shape[:3]
    kept = kept_frames(frames, k)
    if num_kept != kept.size:
        raise InputError(f"{num_kept} kept frames given, but T = {frames} with K = {k} keeps {kept.size}")
    magnitude = np.empty((slices, frames, size, size), np.float32)
    mask = np.empty_like(magnitude)
    magnitude[:, kept] = kept_magnitudes
    mask[:, kept] = kept_masks
    plan = gap_targets(frames, k)
    if plan.targets.size:
        magnitude[:, plan.targets], mask[:, plan.targets] = fill_gaps(kept_magnitudes, kept_masks, plan, interpolator)
    return CropTwin(magnitude=magnitude, mask=mask, phase=synthesize_cycle_phase(magnitude, seed, phase))


def synthesize_cycle_phase(magnitude: np.ndarray, seed: int, phase: PhaseSynthesizer) -> np.ndarray:
    """Phase of every frame of S slices' cycles in one request: magnitude (S, T, C, C) → (S, T, C, C, 3).

    Frame t sees its cyclic neighbours (t − 1, t, t + 1, or t − 2 … t + 2) and background seed (seed, s·T + t).
    """
    slices, frames = magnitude.shape[:2]
    return phase.synthesize_cycles(magnitude, frame_seeds(seed, slices, frames))


def downsample(series: Series, k: int) -> Series:
    """A full series' kept frames 0, K+1, 2(K+1), … with their masks: a low-frame-rate series (evaluation, demos)."""
    kept = kept_frames(series.num_frames, k)
    return series.replace(
        magnitude=series.magnitude[kept],
        phase=None,
        masks=None if series.masks is None else series.masks[kept],
    )


MAX_IMPLIED_FRAMES = 100
"""A longer implied cycle (kept frames × (K+1)) without --frames is almost surely a full series given with --k."""


def cycle_frames(num_kept: int, k: int, frames: int | None) -> int:
    """T of a low-frame-rate series of ``num_kept`` frames: ``frames`` if given (checked), else num_kept · (K+1)."""
    validate_k(k, num_kept * (k + 1))  # K in range first; T itself is checked below
    if frames is None and k > 0 and num_kept * (k + 1) > MAX_IMPLIED_FRAMES:
        raise InputError(
            f"{num_kept} input frames with K = {k} would make a cycle of {num_kept * (k + 1)} frames: is INPUT a "
            "full series? Then use --downsample K. If it really holds only the kept frames, give --frames T"
        )
    total = num_kept * (k + 1) if frames is None else int(frames)
    low, high = (num_kept - 1) * (k + 1) + 1, num_kept * (k + 1)
    if not low <= total <= high:
        raise InputError(
            f"{num_kept} kept frames with K = {k} dropped between them make a cycle of {low} to {high} frames, "
            f"not T = {total}; check --k and --frames (the input must hold only the kept frames)"
        )
    validate_k(k, total)
    return total


def _check_kept_masks(series: Series, k: int) -> np.ndarray:
    """The masks of every kept frame and slice, or an InputError naming the ones that are missing."""
    if series.masks is None:
        raise InputError(
            "the input has no myocardium masks; synthesis needs the mask of every kept frame and slice "
            "(a seg.dcm beside a DICOM input, the .npz array `masks`, or --masks FILE)"
        )
    empty = np.argwhere(~series.masks.any(axis=(2, 3)))
    if empty.size:
        where = ", ".join(f"frame {int(f) * (k + 1)} slice {int(s)}" for f, s in empty[:5])
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise InputError(
            f"masks missing for {len(empty)} kept frame(s): {where}{more} have an empty myocardium mask; "
            "every kept frame of every slice needs its mask"
        )
    return series.masks


def validate_low_rate(low_rate: Series, k: int, frames: int | None = None) -> int:
    """Check K, T and the kept frames' masks of a low-frame-rate series before any work; returns T."""
    total = cycle_frames(low_rate.num_frames, k, frames)
    _check_kept_masks(low_rate, k)
    return total


def synthesize_twin(
    low_rate: Series,
    k: int,
    models: TwinModels,
    seed: int = 0,
    frames: int | None = None,
    method: str = DEFAULT_METHOD,
) -> Series:
    """The full digital twin of a low-frame-rate series (module docstring): T frames of magnitude, phase, masks.

    Args:
        low_rate: the kept frames only (magnitude (N, S, H, W) in scanner units, masks of every kept frame).
        k: frames dropped between kept frames (0 … 6).
        models: the networks (:func:`~keras_hdl.synthesis.networks.load_local_models` or a TF Serving connection).
        seed: background-noise seed; the same seed gives the same twin.
        frames: T, frames per cycle (default N · (K+1)).
        method: the method's name in the provenance.

    Returns:
        A :class:`Series` (T, S, H, W) with raw phase, the input's venc, geometry and RR interval, and a
        provenance that names the method, K, the models' version and the seed — never the source.
    """
    twin = plan_twin(low_rate, k, models, seed, frames, method)
    total, slices, (height, width) = twin.frames, low_rate.num_slices, low_rate.image_shape
    magnitude = np.empty((total, slices, height, width), np.float32)
    phase = np.empty((total, slices, 3, height, width), np.float32)
    masks = np.empty((total, slices, height, width), bool)
    for t, (frame_magnitude, frame_phase, frame_masks) in enumerate(twin.frames_in_order()):
        magnitude[t], phase[t], masks[t] = frame_magnitude, frame_phase, frame_masks
    return twin.series(masks).replace(magnitude=magnitude, phase=phase)


@dataclasses.dataclass(frozen=True)
class TwinPlan:
    """A twin whose networks have run (on the LV crops): its full field of view is made frame by frame
    (:meth:`frames_in_order`), so a twin too big to hold can go to disk as it is made."""

    low_rate: Series
    k: int
    frames: int
    seed: int
    windows: list[LVWindow]
    crops: CropTwin
    scale: float
    background: tuple[float, float]
    provenance: dict
    view: Series  # ``low_rate`` as the networks saw it: mirrored if seen from the apex (keras_hdl.viewing)

    @property
    def mirrored(self) -> bool:
        """Whether the networks saw the scan mirrored, so that every frame is mirrored back."""
        return self.view is not self.low_rate

    def frames_in_order(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Frame t = 0 … T−1 of the twin: magnitude (S, H, W), raw phase (S, 3, H, W) float32, masks (S, H, W) bool.

        Outside the crop: linear interpolation of the magnitude, no myocardium, background phase noise
        (drawn frame by frame from one generator, a frame ahead on a second thread: the same stream as one call,
        without a float64 array).
        """
        low, crops = self.view, self.crops
        masks = low.masks
        kept = {int(t): i for i, t in enumerate(kept_frames(self.frames, self.k))}
        plan = gap_targets(self.frames, self.k)
        gap = {int(t): m for m, t in enumerate(plan.targets)}
        for t, phase in enumerate(self._background_noise((low.num_slices, 3, *low.image_shape))):
            if t in kept:
                magnitude, frame_masks = low.magnitude[kept[t]].copy(), masks[kept[t]].copy()
            else:
                m = gap[t]
                start, end = plan.start_index[m], plan.end_index[m]
                positions = np.repeat(plan.positions[m : m + 1], low.num_slices, axis=0)
                magnitude, _ = LinearInterpolator().interpolate(
                    low.magnitude[start], low.magnitude[end], masks[start], masks[end], positions
                )
                frame_masks = np.zeros(masks.shape[1:], bool)
            for s, window in enumerate(self.windows):
                rows, columns = window.region
                crop_phase = np.moveaxis(crops.phase[s, t], -1, 0)  # (3, C, C)
                if t in kept:
                    pasted_phase = window.paste_region(crop_phase)  # (3, rows, columns), NaN outside the footprint
                else:  # magnitude, mask and phase pasted in one call: (5, rows, columns)
                    pasted = window.paste_region(
                        np.concatenate([crops.magnitude[s, t][None], crops.mask[s, t][None], crop_phase])
                    )
                    pasted_magnitude, pasted_phase = pasted[0], pasted[2:]
                    denormalized = (np.clip(pasted_magnitude, -1.0, 1.0) + 1.0) * 0.5 * self.scale
                    np.copyto(magnitude[s, rows, columns], denormalized, where=np.isfinite(pasted_magnitude))
                    frame_masks[s, rows, columns] = np.nan_to_num(pasted[1]) > MASK_THRESHOLD
                np.copyto(phase[s, :, rows, columns], pasted_phase, where=np.isfinite(pasted_phase))
            frame = (magnitude, denormalize_phase(phase, out=phase), frame_masks)
            yield mirror_images(*frame) if self.mirrored else frame

    def _background_noise(self, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
        """Background phase noise of each frame t = 0 … T−1, float32 ``shape``, from one generator seeded with the
        plan's seed. Each frame's draw runs on a second thread while the caller works on the frame before (numpy
        lets go of the GIL): one draw at a time, in frame order, so the same stream as drawing them in turn."""
        rng = np.random.default_rng(self.seed)

        def draw() -> np.ndarray:
            return np.clip(rng.normal(*self.background, shape), -1, 1).astype(np.float32)

        with ThreadPoolExecutor(max_workers=1) as noise:
            upcoming = noise.submit(draw)
            for t in range(self.frames):
                current = upcoming.result()
                if t + 1 < self.frames:
                    upcoming = noise.submit(draw)
                yield current

    def series(self, masks: np.ndarray) -> Series:
        """The twin's :class:`Series` with ``masks`` (T, S, H, W) and, in place of its images, a zero magnitude
        that takes no memory (what writers need besides the images)."""
        low = self.low_rate
        return Series(
            magnitude=np.broadcast_to(np.float32(0), masks.shape),
            venc=low.venc,
            masks=masks,
            pixel_spacing=low.pixel_spacing,
            image_orientation=low.image_orientation,
            image_positions=low.image_positions,
            rr_interval_ms=low.rr_interval_ms,
            provenance=self.provenance,
        )


def plan_twin(
    low_rate: Series,
    k: int,
    models: TwinModels,
    seed: int = 0,
    frames: int | None = None,
    method: str = DEFAULT_METHOD,
) -> TwinPlan:
    """Check the input, run the networks on every slice's LV crop: the :class:`TwinPlan` (arguments: see
    :func:`synthesize_twin`)."""
    seed = validate_seed(seed)
    total = validate_low_rate(low_rate, k, frames)
    view, _ = canonical_view(low_rate)
    masks = view.masks
    normalized = normalize_magnitude(view.magnitude)
    windows = [
        LVWindow.around(masks[:, s], view.pixel_spacing, models.pixel_spacing_mm, models.crop_size)
        for s in range(view.num_slices)
    ]
    for s, window in enumerate(windows):
        if (masks[:, s] & ~window.footprint()).any():
            raise InputError(
                f"slice {s}: the myocardium reaches outside the networks' {models.crop_size}-pixel crop at "
                f"{models.pixel_spacing_mm} mm; the masks may be wrong (they should cover the LV myocardium only)"
            )
    kept_magnitudes = np.stack([w.crop(normalized[:, s], fill=-1.0) for s, w in enumerate(windows)])
    kept_masks = np.stack(
        [(w.crop(masks[:, s].astype(np.float32), fill=0.0) >= MASK_THRESHOLD) for s, w in enumerate(windows)]
    ).astype(np.float32)
    crops = synthesize_crops(kept_magnitudes, kept_masks, k, total, seed, models.interpolator, models.phase)
    frame_interval_ms = np.nan if low_rate.rr_interval_ms is None else low_rate.rr_interval_ms / total
    crops = dataclasses.replace(crops, phase=models.phase.at_scan(crops.phase, low_rate.venc, frame_interval_ms))
    provenance = {
        "source": "synthetic twin",
        "method": method,
        "k": int(k),
        "model_version": models.version,
        "seed": seed,
        "generator": f"keras-hdl {__version__}",
        **{PROVENANCE_PREFIX + key: value for key, value in allowed_acquisition(low_rate.provenance).items()},
    }
    background = (models.background_mean, models.background_std)
    scale = magnitude_scale(low_rate.magnitude)
    return TwinPlan(low_rate, k, total, seed, windows, crops, scale, background, provenance, view)
