"""The series model: one 3Dir MVM acquisition in memory (docs/design.md §3.1).

Every reader produces a :class:`Series`, every writer consumes one, and the
networks see normalised float32 tensors derived from it.

Axes and conventions
--------------------
- ``magnitude``: (T, S, H, W) float32, scanner units (arbitrary, >= 0).
- ``phase``: (T, S, 3, H, W) float32 raw phase values in [0, 4096]; the 3 axis
  holds the velocity components (x, y, z) in *image* axes: x along increasing
  column index, y along increasing row index, z along the slice normal
  (x direction × y direction in patient coordinates). ``None`` for a
  magnitude-only series (the input of synthesis).
- ``venc``: (3,) cm/s, the encoding velocity of each component.
- ``masks``: (T, S, H, W) bool, the LV myocardium; ``None`` when unknown.
- ``pixel_spacing``: (row spacing, column spacing) in mm.
- ``image_orientation``: (6,) DICOM ImageOrientationPatient (row direction
  cosines, then column direction cosines).
- ``image_positions``: (S, 3) mm, DICOM ImagePositionPatient of each slice.
- ``rr_interval_ms``: the cardiac cycle length, ``None`` when unknown.
- ``provenance``: flat mapping of str → str/int/float describing where the data
  came from (never a patient's identity).

Phase → velocity: v = (p / 4096 − 0.5) · 2 · venc (cm/s); normalised phase
φ = p / 2048 − 1 ∈ [−1, 1] gives v = φ · venc.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError

PHASE_LEVELS = 4096
"""Raw phase values span [0, PHASE_LEVELS]; PHASE_LEVELS / 2 is zero velocity."""

DEFAULT_VENC_CM_S = (20.0, 20.0, 30.0)
"""Default encoding velocities (x, y in plane; z through plane), cm/s."""

REFERENCE_VENC_CM_S = DEFAULT_VENC_CM_S
"""The venc a phase network's output is expressed at (x, y, z cm/s): training re-expresses every scan's
phase at it and synthesis converts back to each scan's own venc, since no magnitude image shows the venc."""

REFERENCE_FRAME_INTERVAL_MS = 20.0
"""The frame interval (ms) a phase network's output is expressed at. Magnitude frames show the wall's
displacement between frames, v · Δt, not its velocity v: training re-expresses every scan's phase at
:func:`displacement_venc` (the same displacement, the same output at any heart rate and frame count) and
synthesis converts back with the scan's own frame interval RR / T."""

COMPONENTS = ("x", "y", "z")
MIN_FRAMES = 3
DEFAULT_SLICE_GAP_MM = 8.0
"""Slice spacing assumed when a series gives no image positions."""

ProvenanceValue = str | int | float
NPZ_ARRAYS = (
    "magnitude",
    "venc",
    "pixel_spacing",
    "image_orientation",
    "image_positions",
    "rr_interval_ms",
    "provenance_keys",
    "provenance_values",
)
"""Arrays every series ``.npz`` holds (``phase`` and ``masks`` when the series has them)."""
MAX_PIXEL_SPACING_MM = 100.0
"""Larger pixels are damage, not data: MR pixels are 0.1–5 mm."""
MAX_POSITION_MM = 1e5
"""Image positions lie within 100 m of the scanner's origin."""
MAX_VENC_CM_S = 1e4
"""Phase-contrast encoding velocities stay below 10 m/s (blood reaches 6 m/s)."""
MAX_RR_MS = 1e5
"""An RR interval beyond 100 s is damage, not a heartbeat."""


def _as_array(name: str, value, dtype) -> np.ndarray:
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise InputError(f"Series.{name}: cannot be read as an array of {np.dtype(dtype).name}: {err}") from err


def _require_finite(name: str, array: np.ndarray) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        bad = ~finite
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"Series.{name}: {int(bad.sum())} non-finite value(s) (NaN or inf), first at index {first}; "
            "replace or mask them before building the series"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """One 3Dir MVM series, validated on construction (see module docstring)."""

    magnitude: np.ndarray
    phase: np.ndarray | None = None
    venc: tuple[float, float, float] = DEFAULT_VENC_CM_S
    masks: np.ndarray | None = None
    pixel_spacing: tuple[float, float] = (1.0, 1.0)
    image_orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    image_positions: np.ndarray | None = None
    rr_interval_ms: float | None = None
    provenance: Mapping[str, ProvenanceValue] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        magnitude = _as_array("magnitude", self.magnitude, np.float32)
        if magnitude.ndim != 4:
            raise InputError(
                "Series.magnitude: expected 4 axes (frames T, slices S, rows H, columns W), "
                f"got shape {magnitude.shape}"
            )
        frames, slices, rows, cols = magnitude.shape
        if frames < MIN_FRAMES:
            raise InputError(f"Series.magnitude: needs at least {MIN_FRAMES} frames per cycle, got {frames}")
        if slices < 1 or rows < 8 or cols < 8:
            raise InputError(f"Series.magnitude: needs >= 1 slice and >= 8x8 pixels, got shape {magnitude.shape}")
        _require_finite("magnitude", magnitude)
        if (magnitude < 0).any():
            raise InputError("Series.magnitude: magnitude images must be >= 0 (got negative values)")
        object.__setattr__(self, "magnitude", magnitude)

        venc = _as_array("venc", self.venc, np.float64)
        if venc.shape != (3,):
            raise InputError(f"Series.venc: expected 3 values (x, y, z) in cm/s, got {venc.tolist()}")
        _require_finite("venc", venc)
        if (venc <= 0).any() or (venc > MAX_VENC_CM_S).any():
            raise InputError(
                f"Series.venc: every encoding velocity must be > 0 and <= {MAX_VENC_CM_S:g} cm/s, got {venc.tolist()}"
            )
        object.__setattr__(self, "venc", tuple(float(v) for v in venc))

        if self.phase is not None:
            phase = _as_array("phase", self.phase, np.float32)
            expected = (frames, slices, 3, rows, cols)
            if phase.shape != expected:
                raise InputError(
                    f"Series.phase: expected shape (T, S, 3, H, W) = {expected} to match the magnitude, "
                    f"got {phase.shape}"
                )
            _require_finite("phase", phase)
            if phase.min() < 0 or phase.max() > PHASE_LEVELS:
                raise InputError(
                    f"Series.phase: raw phase values must lie in [0, {PHASE_LEVELS}], "
                    f"got [{phase.min():g}, {phase.max():g}]; convert velocities with velocity_to_phase()"
                )
            object.__setattr__(self, "phase", phase)

        if self.masks is not None:
            masks = np.asarray(self.masks)
            if masks.dtype.kind not in "biuf":
                raise InputError(f"Series.masks: expected bool or 0/1 numbers, got {masks.dtype}")
            if masks.shape != magnitude.shape:
                raise InputError(
                    f"Series.masks: expected shape (T, S, H, W) = {magnitude.shape} to match the magnitude, "
                    f"got {masks.shape}"
                )
            if masks.dtype != bool:
                _require_finite("masks", masks.astype(np.float64))
                if not np.isin(masks, (0, 1)).all():
                    raise InputError("Series.masks: masks must be binary (0/1 or bool)")
            object.__setattr__(self, "masks", masks.astype(bool))

        spacing = _as_array("pixel_spacing", self.pixel_spacing, np.float64)
        if spacing.shape != (2,) or not np.isfinite(spacing).all() or (spacing <= 0).any():
            raise InputError(f"Series.pixel_spacing: expected 2 positive values in mm (rows, columns), got {spacing}")
        if (spacing > MAX_PIXEL_SPACING_MM).any():
            raise InputError(
                f"Series.pixel_spacing: {spacing.tolist()} mm is implausible (more than {MAX_PIXEL_SPACING_MM:g} mm)"
            )
        object.__setattr__(self, "pixel_spacing", (float(spacing[0]), float(spacing[1])))

        orientation = _as_array("image_orientation", self.image_orientation, np.float64)
        if orientation.shape != (6,) or not np.isfinite(orientation).all():
            raise InputError(f"Series.image_orientation: expected 6 direction cosines, got {orientation}")
        row_dir, col_dir = orientation[:3], orientation[3:]
        if not (
            np.isclose(np.linalg.norm(row_dir), 1, atol=1e-3)
            and np.isclose(np.linalg.norm(col_dir), 1, atol=1e-3)
            and abs(row_dir @ col_dir) < 1e-3
        ):
            raise InputError(
                f"Series.image_orientation: row and column directions must be orthonormal, got {orientation.tolist()}"
            )
        object.__setattr__(self, "image_orientation", tuple(float(v) for v in orientation))

        if self.image_positions is None:
            positions = np.arange(slices)[:, None] * DEFAULT_SLICE_GAP_MM * self.slice_normal[None, :]
        else:
            positions = _as_array("image_positions", self.image_positions, np.float64)
            if positions.shape != (slices, 3):
                raise InputError(
                    f"Series.image_positions: expected shape (S, 3) = ({slices}, 3), got {positions.shape}"
                )
            _require_finite("image_positions", positions)
            if (np.abs(positions) > MAX_POSITION_MM).any():
                raise InputError(
                    f"Series.image_positions: coordinates beyond {MAX_POSITION_MM:g} mm are implausible, got "
                    f"{positions.tolist()}"
                )
        object.__setattr__(self, "image_positions", positions)

        if self.rr_interval_ms is not None:
            rr = float(self.rr_interval_ms)
            if not np.isfinite(rr) or rr <= 0 or rr > MAX_RR_MS:
                raise InputError(
                    f"Series.rr_interval_ms: must be > 0 and <= {MAX_RR_MS:g} ms or None, got {self.rr_interval_ms}"
                )
            object.__setattr__(self, "rr_interval_ms", rr)

        for key, value in self.provenance.items():
            if not isinstance(key, str) or not isinstance(value, str | int | float):
                raise InputError(
                    f"Series.provenance: keys must be str and values str/int/float, got {key!r}: {value!r}"
                )
        object.__setattr__(self, "provenance", dict(self.provenance))

    # ------------------------------------------------------------------ shape
    @property
    def num_frames(self) -> int:
        return self.magnitude.shape[0]

    @property
    def frame_interval_ms(self) -> float | None:
        """Time between frames, RR / T ms (``None`` when the RR interval is unknown)."""
        return None if self.rr_interval_ms is None else self.rr_interval_ms / self.num_frames

    @property
    def num_slices(self) -> int:
        return self.magnitude.shape[1]

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.magnitude.shape[2], self.magnitude.shape[3]

    # --------------------------------------------------------------- geometry
    @property
    def slice_normal(self) -> np.ndarray:
        """(3,) unit normal in patient coordinates: row direction × column direction."""
        orientation = np.asarray(self.image_orientation)
        return np.cross(orientation[:3], orientation[3:])

    @property
    def slice_positions(self) -> np.ndarray:
        """(S,) mm, each slice's position along the slice normal."""
        return self.image_positions @ self.slice_normal

    @property
    def trigger_times_ms(self) -> np.ndarray | None:
        """(T,) ms after the R wave for equally spaced frames, ``None`` without an RR interval."""
        if self.rr_interval_ms is None:
            return None
        return np.arange(self.num_frames) * self.rr_interval_ms / self.num_frames

    # --------------------------------------------------------------- velocity
    def velocity(self) -> np.ndarray:
        """(T, S, 3, H, W) float32 velocities in cm/s from the raw phase."""
        if self.phase is None:
            raise InputError("this series has no phase images, so it has no velocities")
        return phase_to_velocity(self.phase, self.venc)

    # ------------------------------------------------------------ model views
    def normalized_magnitude(self) -> np.ndarray:
        """(T, S, H, W) float32 in [−1, 1] (see :func:`normalize_magnitude`)."""
        return normalize_magnitude(self.magnitude)

    def normalized_phase(self) -> np.ndarray:
        """(T, S, 3, H, W) float32 in [−1, 1]: p / 2048 − 1."""
        if self.phase is None:
            raise InputError("this series has no phase images to normalise")
        return normalize_phase(self.phase)

    def replace(self, **changes) -> Series:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # -------------------------------------------------------------------- io
    def save_npz(self, path: str | Path) -> Path:
        """Write the series to ``path`` (.npz) atomically, with deterministic bytes; returns the path."""
        from keras_hdl.io_utils import write_npz

        return write_npz(path, self.npz_arrays())

    def npz_arrays(self, magnitude=None, phase=None) -> dict:
        """The arrays :meth:`save_npz` writes, in its order; ``magnitude`` / ``phase`` (arrays, or frame files
        of a series too big to hold) in place of the series' own."""
        arrays = {
            "magnitude": self.magnitude if magnitude is None else magnitude,
            "venc": np.asarray(self.venc),
            "pixel_spacing": np.asarray(self.pixel_spacing),
            "image_orientation": np.asarray(self.image_orientation),
            "image_positions": self.image_positions,
            "rr_interval_ms": np.asarray(np.nan if self.rr_interval_ms is None else self.rr_interval_ms),
            "provenance_keys": np.asarray(list(self.provenance.keys()), dtype=str),
            "provenance_values": np.asarray([repr(v) for v in self.provenance.values()], dtype=str),
        }
        phase = self.phase if phase is None else phase
        if phase is not None:
            arrays["phase"] = phase
        if self.masks is not None:
            arrays["masks"] = self.masks
        return arrays

    @classmethod
    def load_npz(cls, path: str | Path, phase: bool = True, magnitude: bool = True) -> Series:
        """Read a series written by :meth:`save_npz`; a damaged or foreign file is an :class:`InputError` naming it.

        Without ``phase``, no phase images; without ``magnitude``, a zero magnitude of its shape that takes no
        memory (the header: geometry, venc, masks).
        """
        from keras_hdl.errors import about
        from keras_hdl.io_utils import npz_array_header, read_npz

        path = Path(path)
        skip = {name for name, wanted in (("phase", phase), ("magnitude", magnitude)) if not wanted}
        data = read_npz(path, skip=tuple(skip))
        if not magnitude:
            data["magnitude"] = np.broadcast_to(np.float32(0), npz_array_header(path, "magnitude")[0])
        missing = set(NPZ_ARRAYS) - set(data)
        if missing:
            raise InputError(f"{path}: no {sorted(missing)} arrays; this is not a keras-hdl series file")
        rr, keys, values = data["rr_interval_ms"], data["provenance_keys"], data["provenance_values"]
        if rr.shape != () or rr.dtype.kind != "f":
            raise InputError(f"{path}: rr_interval_ms must be one float (NaN when unknown), got {rr.dtype} {rr.shape}")
        if keys.ndim != 1 or keys.shape != values.shape or {keys.dtype.kind, values.dtype.kind} != {"U"}:
            raise InputError(f"{path}: provenance_keys and provenance_values must be two text arrays of one length")
        try:
            provenance = {str(k): ast.literal_eval(str(v)) for k, v in zip(keys, values, strict=True)}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as err:
            raise InputError(f"{path}: provenance_values holds a value that is not a literal ({err})") from err
        with about(path):
            return cls(
                magnitude=data["magnitude"],
                phase=data.get("phase"),
                venc=data["venc"],
                masks=data.get("masks"),
                pixel_spacing=data["pixel_spacing"],
                image_orientation=data["image_orientation"],
                image_positions=data["image_positions"],
                rr_interval_ms=None if np.isnan(rr) else float(rr),
                provenance=provenance,
            )


# ---------------------------------------------------------------- conversions
def phase_to_velocity(phase: np.ndarray, venc) -> np.ndarray:
    """Raw phase (..., 3, H, W) in [0, 4096] → velocity in cm/s: (p / 4096 − 0.5) · 2 · venc."""
    venc = np.asarray(venc, dtype=np.float32).reshape(3, 1, 1)
    return ((np.asarray(phase, np.float32) / PHASE_LEVELS - 0.5) * 2.0 * venc).astype(np.float32)


def velocity_to_phase(velocity: np.ndarray, venc, quantize: bool = True) -> np.ndarray:
    """Velocity (..., 3, H, W) in cm/s → raw phase in [0, 4096]; clipped at ±venc, rounded if ``quantize``."""
    venc = np.asarray(venc, dtype=np.float32).reshape(3, 1, 1)
    phase = (np.clip(np.asarray(velocity, np.float32) / venc, -1.0, 1.0) * 0.5 + 0.5) * PHASE_LEVELS
    if quantize:
        phase = np.round(phase)
    return phase.astype(np.float32)


def magnitude_scale(magnitude: np.ndarray, percentile: float = 99.5) -> float:
    """The series' robust maximum (scanner units) that :func:`normalize_magnitude` maps to 1."""
    scale = float(np.percentile(np.asarray(magnitude, np.float32), percentile))
    if scale <= 0:
        raise InputError("magnitude is zero almost everywhere; cannot normalise an empty series")
    return scale


def normalize_magnitude(magnitude: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Scanner-unit magnitude → [−1, 1]: divide by the series' robust maximum, clip to [0, 1], map to [−1, 1]."""
    magnitude = np.asarray(magnitude, np.float32)
    scale = magnitude_scale(magnitude, percentile)
    return (np.clip(magnitude / scale, 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


def normalize_phase(phase: np.ndarray) -> np.ndarray:
    """Raw phase in [0, 4096] → [−1, 1]: p / 2048 − 1."""
    return (np.asarray(phase, np.float32) / (PHASE_LEVELS / 2) - 1.0).astype(np.float32)


def rescale_phase_venc(phase: np.ndarray, from_venc, to_venc) -> np.ndarray:
    """Normalised phase (..., 3) at venc ``from_venc`` (..., 3) cm/s → the same velocities at ``to_venc``.

    φ' = φ · from / to, clipped to [−1, 1] (a velocity beyond the new venc would alias; it saturates).
    """
    ratio = np.asarray(from_venc, np.float32) / np.asarray(to_venc, np.float32)
    return np.clip(np.asarray(phase, np.float32) * ratio, -1.0, 1.0).astype(np.float32)


def displacement_venc(venc_cm_s, frame_interval_ms, reference_interval_ms: float = REFERENCE_FRAME_INTERVAL_MS):
    """The venc (..., 3) cm/s at which a phase expresses the displacement per frame, not the velocity.

    ``venc · reference_interval / frame_interval`` for ``frame_interval_ms`` (...,) ms: a wall moving at
    v for Δt has the phase v · Δt / (venc · reference), the same for a slow heart at many frames and a
    fast one at few. With :func:`rescale_phase_venc` it converts a scan's phase to what a network sees.
    """
    interval = np.asarray(frame_interval_ms, np.float64)[..., None]
    return (np.asarray(venc_cm_s, np.float64) * (reference_interval_ms / interval)).astype(np.float32)


def denormalize_phase(normalized: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`normalize_phase`: [−1, 1] → raw phase in [0, 4096], float32, in ``out`` when given."""
    phase = np.clip(np.asarray(normalized, np.float32), -1.0, 1.0, out=out)
    phase += 1.0
    phase *= PHASE_LEVELS / 2
    return phase
