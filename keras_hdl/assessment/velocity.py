"""Phase → myocardial velocity curves in cylindrical components (docs/design.md §2.3).

Conventions (fixed, tested with synthetic rigid motion)
-------------------------------------------------------
- Image axes: x = increasing column index (left → right as displayed), y = increasing
  row index (row 0 at the top), z = the slice normal (x direction × y direction in
  patient coordinates; positive z is towards the apex in the phantom).
- Velocities come from the raw phase with the series' venc (cm/s) and are reported in
  **mm/s**.
- Scanner differences: ``swap_xy`` exchanges the stored x and y components first, then
  ``flip_x`` / ``flip_y`` / ``flip_z`` negate the (swapped) image-axis components.
- Per frame and slice: the mean in-plane velocity over the myocardium (bulk motion) is
  subtracted, and the origin is the myocardium centroid of that frame (pixel units;
  offsets are turned into mm with the pixel spacing before directions, radii and angles
  are taken, so anisotropic pixels are handled).
- Components (directions from :func:`keras_hdl.geometry.cylindrical_unit_vectors`):
  radial, positive **towards the centre** (contraction: systolic peaks positive,
  early-diastolic negative); circumferential, positive **counter-clockwise as displayed**;
  longitudinal = vz (no bulk-motion removal through plane).

Curves
------
- Global: mean over the myocardium mask per frame.
- Sectors: six equal 60° sectors numbered 1..6 counter-clockwise as displayed, starting
  at a reference angle measured counter-clockwise as displayed from the +x axis (pointing
  right). The reference is the anterior RV insertion point when one is given per slice
  (``insertion_points``: (row, col) pixels); our masks hold the LV myocardium only, so
  without it the configured ``reference_angle_deg`` is used. Its default, 120°, is where
  the anterior insertion point sits in a standard short-axis view (RV on the image's
  left, anterior at the top), which makes sectors 1..6 the AHA anteroseptal,
  inferoseptal, inferior, inferolateral, anterolateral and anterior segments. That view is
  seen from the apex; in a scan seen from the base (the phantom's, :mod:`keras_hdl.viewing`)
  the anterior insertion point sits upper right and counter-clockwise runs through the
  segments in the reverse order (sector 1 anterior … sector 6 anteroseptal).
- Layers: endo / mid / epi thirds of the normalised wall depth. Depth is measured along
  the radius within 10° angular bins (:data:`WALL_DEPTH_ANGULAR_BINS`):
  (r − r_inner + h/2) / (r_outer − r_inner + h), with h the mean pixel spacing, so a wall
  n pixels thick gives n equal depth steps.

Everything is vectorised over frames and slices: only myocardium pixels are gathered
(once, with ``np.nonzero``) and per-frame means are weighted ``np.bincount`` sums.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.geometry import cylindrical_unit_vectors
from keras_hdl.readers import SeriesSlices
from keras_hdl.series import Series, phase_to_velocity

COMPONENT_NAMES = ("radial", "circumferential", "longitudinal")
"""The three cylindrical components, in the order of every component axis."""

NUM_SECTORS = 6
SECTOR_NAMES = tuple(f"sector{k}" for k in range(1, NUM_SECTORS + 1))
LAYER_NAMES = ("endo", "mid", "epi")
DEFAULT_REFERENCE_ANGLE_DEG = 120.0
"""Sector reference angle (degrees CCW as displayed from +x) used without an insertion point."""

WALL_DEPTH_ANGULAR_BINS = 36
CM_S_TO_MM_S = 10.0
ZERO_PHASE = (
    "the phase images are all zero, so they hold no velocity data (zero velocity is raw phase 2048); "
    "check that the phase series was read, not a blank one"
)


@dataclasses.dataclass(frozen=True, eq=False)
class AssessmentOptions:
    """How to read the velocity components and where the sectors start.

    Attributes:
        flip_x, flip_y, flip_z: negate that image-axis component (after ``swap_xy``).
        swap_xy: exchange the stored x and y components (before the flips).
        reference_angle_deg: start of sector 1, degrees counter-clockwise as displayed
            from the +x axis; used when ``insertion_points`` is ``None``.
        insertion_points: anterior RV insertion point, (S, 2) or (T, S, 2) pixel
            (row, col); the sector reference is its angle about each frame's centroid.
        background_correction: subtract the static background phase (eddy currents) fitted on
            static tissue outside the heart (:mod:`keras_hdl.assessment.background`).
    """

    flip_x: bool = False
    flip_y: bool = False
    flip_z: bool = False
    swap_xy: bool = False
    reference_angle_deg: float = DEFAULT_REFERENCE_ANGLE_DEG
    insertion_points: np.ndarray | None = None
    background_correction: bool = False

    def __post_init__(self) -> None:
        if not np.isfinite(self.reference_angle_deg):
            raise InputError(f"reference_angle_deg must be a finite angle in degrees, got {self.reference_angle_deg}")
        if self.insertion_points is not None:
            points = np.asarray(self.insertion_points, np.float64)
            if points.ndim not in (2, 3) or points.shape[-1] != 2 or not np.isfinite(points).all():
                raise InputError(
                    "insertion_points: expected finite (row, col) pixel positions of shape (S, 2) or (T, S, 2), "
                    f"got shape {points.shape}"
                )
            object.__setattr__(self, "insertion_points", points)

    def component_signs(self) -> np.ndarray:
        """(3,) the sign applied to the (x, y, z) components after the optional swap."""
        return np.array([-1.0 if flip else 1.0 for flip in (self.flip_x, self.flip_y, self.flip_z)])

    def as_dict(self) -> dict:
        return {
            "flip_x": self.flip_x,
            "flip_y": self.flip_y,
            "flip_z": self.flip_z,
            "swap_xy": self.swap_xy,
            "reference_angle_deg": None if self.insertion_points is not None else self.reference_angle_deg,
            "insertion_points": None if self.insertion_points is None else self.insertion_points.tolist(),
            "background_correction": self.background_correction,
        }


@dataclasses.dataclass(frozen=True, eq=False)
class Assessment:
    """Velocity curves of one series, all in mm/s, frames on the last axis.

    Attributes:
        global_curves: (S, 3, T) mean over the myocardium per frame (radial, circumferential, longitudinal).
        sector_curves: (S, 3, 6, T) per sector; NaN where a sector holds no myocardium in a frame.
        layer_curves: (S, 3, 3, T) endo / mid / epi; NaN where a layer is empty in a frame.
        centroids: (T, S, 2) myocardium centroid per frame, pixel (row, col).
        rr_interval_ms: the cardiac cycle length, ``None`` when unknown.
        options: the options the curves were computed with.
    """

    global_curves: np.ndarray
    sector_curves: np.ndarray
    layer_curves: np.ndarray
    centroids: np.ndarray
    rr_interval_ms: float | None
    options: AssessmentOptions

    @property
    def num_slices(self) -> int:
        return self.global_curves.shape[0]

    @property
    def num_frames(self) -> int:
        return self.global_curves.shape[-1]

    @property
    def mean_curves(self) -> np.ndarray:
        """(3, T) global curves averaged over slices, mm/s."""
        return self.global_curves.mean(axis=0)


def _require_myocardium(present: np.ndarray, slices: int) -> None:
    """An InputError naming the first (frame, slice) without myocardium; ``present``: (T·S,) bool, frame-major."""
    empty = np.flatnonzero(~present)
    if empty.size:
        first_frame, first_slice = divmod(int(empty[0]), slices)
        raise InputError(
            f"masks: the myocardium mask of slice {first_slice}, frame {first_frame} (0-based) is empty "
            f"({empty.size} empty frame(s) in all); every frame of every slice needs a myocardium mask"
        )


@dataclasses.dataclass(frozen=True)
class _MyocardiumPixels:
    """Indices of every myocardium pixel, grouped by (frame, slice): group = frame · S + slice."""

    frame: np.ndarray
    slice: np.ndarray
    row: np.ndarray
    col: np.ndarray
    group: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_masks(cls, masks: np.ndarray) -> _MyocardiumPixels:
        frames, slices = masks.shape[:2]
        frame, slice_, row, col = np.unravel_index(np.flatnonzero(masks), masks.shape)  # 5x faster than nonzero
        group = frame * slices + slice_
        counts = np.bincount(group, minlength=frames * slices)
        _require_myocardium(counts > 0, slices)
        return cls(frame, slice_, row, col, group, counts)

    def group_mean(self, values: np.ndarray) -> np.ndarray:
        """(N,) per-pixel values → (G,) mean per (frame, slice)."""
        return np.bincount(self.group, weights=values, minlength=self.counts.size) / self.counts


def assess_series(series: Series, options: AssessmentOptions | None = None) -> Assessment:
    """Global, sector and layer velocity curves of a series with phase and masks (mm/s).

    Only the myocardium pixels' raw phase is converted, with the same
    :func:`keras_hdl.series.phase_to_velocity` that :meth:`Series.velocity` uses, so the
    background (most of the image) costs nothing.
    """
    _require_phase_and_masks(series)
    if not series.phase.any():
        raise InputError(ZERO_PHASE)
    return _assess_checked(series, options)


def assess_slices(slices: SeriesSlices, options: AssessmentOptions | None = None) -> Assessment:
    """:func:`assess_series` of ``slices``' series, one slice at a time: the same curves, in the memory of one slice.

    Every group of pixels the curves average lies within one frame of one slice, so slice by
    slice gives the curves of the whole series bit for bit.
    """
    header = slices.header
    frames, count = header.num_frames, header.num_slices
    points = None if options is None else options.insertion_points
    if points is not None:
        _check_insertion_points(points, frames, count)
    if header.masks is not None:
        _require_myocardium(header.masks.any(axis=(2, 3)).ravel(), count)
    parts, nonzero = [], False
    for index in range(count):
        part = slices.slice_series(index)
        _require_phase_and_masks(part)
        nonzero = nonzero or bool(part.phase.any())
        part_options = options
        if points is not None:
            own = points[index : index + 1] if points.ndim == 2 else points[:, index : index + 1]
            part_options = dataclasses.replace(options, insertion_points=own)
        parts.append(_assess_checked(part, part_options))
    if not nonzero:
        raise InputError(ZERO_PHASE)
    return Assessment(
        np.concatenate([p.global_curves for p in parts]),
        np.concatenate([p.sector_curves for p in parts]),
        np.concatenate([p.layer_curves for p in parts]),
        np.concatenate([p.centroids for p in parts], axis=1),
        header.rr_interval_ms,
        options or AssessmentOptions(),
    )


def _require_phase_and_masks(series: Series) -> None:
    if series.phase is None:
        raise InputError("the series has no phase images; velocity assessment needs the x, y and z phase images")
    if series.masks is None:
        raise InputError(
            "the series has no myocardium masks; supply them (for `keras-hdl assess`: --masks FILE, "
            "or a seg.dcm beside the input that references it)"
        )


def _assess_checked(series: Series, options: AssessmentOptions | None) -> Assessment:
    """The curves of a series with phase and masks (checked by the caller)."""
    pixels = _MyocardiumPixels.from_masks(series.masks)
    raw_phase = series.phase[pixels.frame, pixels.slice, :, pixels.row, pixels.col]  # (N, 3)
    velocity = phase_to_velocity(raw_phase[:, :, None, None], series.venc)[:, :, 0, 0]
    if options is not None and options.background_correction:
        from keras_hdl.assessment.background import background_offsets

        velocity = velocity - background_offsets(series)[pixels.slice, :, pixels.row, pixels.col]
    shape = (series.num_frames, series.num_slices)
    return _assess_pixels(pixels, velocity, shape, series.pixel_spacing, series.rr_interval_ms, options)


def assess_velocity(
    velocity_cm_s: np.ndarray,
    masks: np.ndarray,
    pixel_spacing: tuple[float, float] = (1.0, 1.0),
    rr_interval_ms: float | None = None,
    options: AssessmentOptions | None = None,
) -> Assessment:
    """The curves of velocity images already in cm/s.

    Args:
        velocity_cm_s: (T, S, 3, H, W) image-axis (x, y, z) velocities, cm/s.
        masks: (T, S, H, W) binary myocardium.
        pixel_spacing: (row spacing, column spacing) in mm.
        rr_interval_ms: cycle length in ms, or ``None``.
    """
    velocity_cm_s = np.asarray(velocity_cm_s)
    masks = np.asarray(masks)
    if velocity_cm_s.ndim != 5 or velocity_cm_s.shape[2] != 3:
        raise InputError(f"velocity: expected shape (T, S, 3, H, W), got {velocity_cm_s.shape}")
    frames, slices, _, rows, cols = velocity_cm_s.shape
    if masks.shape != (frames, slices, rows, cols):
        raise InputError(
            f"masks: shape {masks.shape} differs from the images' (T, S, H, W) = {(frames, slices, rows, cols)}"
        )
    pixels = _MyocardiumPixels.from_masks(masks.astype(bool))
    velocity = velocity_cm_s[pixels.frame, pixels.slice, :, pixels.row, pixels.col]
    if not np.isfinite(velocity).all():
        raise InputError("velocity: NaN or infinite values inside the myocardium; replace or mask them first")
    return _assess_pixels(pixels, velocity, (frames, slices), pixel_spacing, rr_interval_ms, options)


def _assess_pixels(
    pixels: _MyocardiumPixels,
    velocity_cm_s: np.ndarray,
    frames_slices: tuple[int, int],
    pixel_spacing: tuple[float, float],
    rr_interval_ms: float | None,
    options: AssessmentOptions | None,
) -> Assessment:
    """Per-pixel (N, 3) image-axis velocities in cm/s → the curves of :class:`Assessment`."""
    options = options or AssessmentOptions()
    frames, slices = frames_slices
    velocity = np.asarray(velocity_cm_s, np.float64)
    if options.swap_xy:
        velocity = velocity[:, [1, 0, 2]]
    velocity = velocity * (options.component_signs() * CM_S_TO_MM_S)

    row_spacing, col_spacing = pixel_spacing
    centroid_row = pixels.group_mean(pixels.row)
    centroid_col = pixels.group_mean(pixels.col)
    dy = (pixels.row - centroid_row[pixels.group]) * row_spacing
    dx = (pixels.col - centroid_col[pixels.group]) * col_spacing
    vx = velocity[:, 0] - pixels.group_mean(velocity[:, 0])[pixels.group]
    vy = velocity[:, 1] - pixels.group_mean(velocity[:, 1])[pixels.group]
    radial_dir, circumferential_dir = cylindrical_unit_vectors(dx, dy)
    cylindrical = np.stack(
        [
            vx * radial_dir[:, 0] + vy * radial_dir[:, 1],
            vx * circumferential_dir[:, 0] + vy * circumferential_dir[:, 1],
            velocity[:, 2],
        ]
    )  # (3, N)

    angle = np.arctan2(-dy, dx)  # counter-clockwise as displayed from +x, in (−π, π]
    reference = _reference_angles(options, centroid_row, centroid_col, frames, slices, pixel_spacing)
    sector = np.floor(np.mod(angle - reference[pixels.group], 2 * np.pi) / (2 * np.pi / NUM_SECTORS))
    sector = np.minimum(sector.astype(np.int64), NUM_SECTORS - 1)
    depth = _wall_depth(pixels, angle, np.hypot(dx, dy), float(np.mean(pixel_spacing)))
    layer = np.minimum((depth * len(LAYER_NAMES)).astype(np.int64), len(LAYER_NAMES) - 1)

    def to_curves(per_group: np.ndarray) -> np.ndarray:
        """(3, T·S, R) → (S, 3, R, T)."""
        return per_group.reshape(3, frames, slices, -1).transpose(2, 0, 3, 1)

    global_curves = to_curves(np.stack([pixels.group_mean(c) for c in cylindrical])[..., None])[:, :, 0]
    sector_curves = to_curves(_region_means(cylindrical, pixels, sector, NUM_SECTORS))
    layer_curves = to_curves(_region_means(cylindrical, pixels, layer, len(LAYER_NAMES)))
    centroids = np.stack([centroid_row, centroid_col], axis=-1).reshape(frames, slices, 2)
    return Assessment(global_curves, sector_curves, layer_curves, centroids, rr_interval_ms, options)


def _reference_angles(
    options: AssessmentOptions,
    centroid_row: np.ndarray,
    centroid_col: np.ndarray,
    frames: int,
    slices: int,
    pixel_spacing: tuple[float, float],
) -> np.ndarray:
    """(G,) sector start angle per (frame, slice), radians CCW as displayed from +x."""
    if options.insertion_points is None:
        return np.full(centroid_row.shape, np.deg2rad(options.reference_angle_deg))
    points = options.insertion_points
    _check_insertion_points(points, frames, slices)
    points = np.broadcast_to(points, (frames, slices, 2)).reshape(-1, 2)
    row_spacing, col_spacing = pixel_spacing
    return np.arctan2(-(points[:, 0] - centroid_row) * row_spacing, (points[:, 1] - centroid_col) * col_spacing)


def _check_insertion_points(points: np.ndarray, frames: int, slices: int) -> None:
    if points.shape not in ((slices, 2), (frames, slices, 2)):
        raise InputError(
            f"insertion_points: expected shape (S, 2) = ({slices}, 2) or (T, S, 2) = ({frames}, {slices}, 2) "
            f"pixel (row, col), got {points.shape}"
        )


def _wall_depth(pixels: _MyocardiumPixels, angle: np.ndarray, radius_mm: np.ndarray, pixel_mm: float) -> np.ndarray:
    """(N,) normalised wall depth in (0, 1): 0 at the endocardium, 1 at the epicardium."""
    bins = np.minimum(
        ((angle + np.pi) / (2 * np.pi) * WALL_DEPTH_ANGULAR_BINS).astype(np.int64), WALL_DEPTH_ANGULAR_BINS - 1
    )
    key = pixels.group * WALL_DEPTH_ANGULAR_BINS + bins
    size = pixels.counts.size * WALL_DEPTH_ANGULAR_BINS
    inner = np.full(size, np.inf)
    outer = np.full(size, -np.inf)
    np.minimum.at(inner, key, radius_mm)
    np.maximum.at(outer, key, radius_mm)
    return (radius_mm - inner[key] + pixel_mm / 2) / (outer[key] - inner[key] + pixel_mm)


def _region_means(values: np.ndarray, pixels: _MyocardiumPixels, region: np.ndarray, num_regions: int) -> np.ndarray:
    """(3, N) values → (3, G, R) mean per (frame-slice group, region), NaN where a region is empty."""
    num_groups = pixels.counts.size
    key = pixels.group * num_regions + region
    size = num_groups * num_regions
    counts = np.bincount(key, minlength=size)
    sums = np.stack([np.bincount(key, weights=v, minlength=size) for v in values])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    return means.reshape(3, num_groups, num_regions)
