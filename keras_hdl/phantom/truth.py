"""The phantom's ground truth: what the velocity assessment should find, per slice and frame.

Definitions
-----------
The global curves are the mean, over the pixels of that frame's myocardium mask, of the
**noise-free analytic** velocity at each pixel centre, decomposed about the **true** LV
centre (not the mask centroid) with :func:`keras_hdl.geometry.cylindrical_unit_vectors`:

- ``radial_mm_s``: positive towards the centre (systole +, early diastole −);
- ``circumferential_mm_s``: positive counter-clockwise as displayed;
- ``longitudinal_mm_s``: v_z, positive towards the apex (the base descends in systole).

With the v2 wall (``anatomy="v2"``: off-centre centroid, unequal regional motion) the
radial and circumferential curves follow the assessment's own definition instead (DESIGN
§2.3: per frame the mask-mean in-plane velocity is removed and the origin is the mask
centroid), applied to the same noise-free analytic field; the longitudinal curve is v_z.

All curves are (S, T) in **mm/s** (the assessment's unit; the phase images use cm/s).
An assessment of the noise-free phantom with the same masks therefore reproduces them
to within phase quantisation (the phantom has no bulk in-plane motion, and its
myocardium centroid coincides with the LV centre to within a fraction of a pixel).

Also: endocardial / epicardial radii (S, T) mm, rotation (S, T) degrees counter-clockwise
as displayed ("twist"), the LV centre (S, 2) pixels (x = column, y = row), the RV
insertion points (T, S, 2, 2) pixels ([anterior, inferior] × (row, col)) and the tissue
label map (T, S, H, W) uint8 (codes: :data:`TISSUE_NAMES` index).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.io_utils import NPZ_READ_ERRORS, write_npz

TISSUE_NAMES = (
    "air",
    "body",
    "chest_wall",
    "lung",
    "liver",
    "aorta",
    "rv_wall",
    "rv_blood",
    "lv_myocardium",
    "lv_blood",
    "papillary",
)
"""Tissue label codes: ``TISSUE_NAMES[code]``."""
TISSUE_CODES = {name: code for code, name in enumerate(TISSUE_NAMES)}

TRUTH_FILE = "truth.npz"
_ARRAY_FIELDS = (
    "radial_mm_s",
    "circumferential_mm_s",
    "longitudinal_mm_s",
    "endo_radius_mm",
    "epi_radius_mm",
    "twist_deg",
    "lv_centre_xy_px",
    "insertion_points_rc_px",
    "tissue_labels",
)


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
    """Ground truth of one phantom scan (see module docstring for the definitions and units)."""

    slice_labels: tuple[str, ...]
    rr_interval_ms: float
    radial_mm_s: np.ndarray
    circumferential_mm_s: np.ndarray
    longitudinal_mm_s: np.ndarray
    endo_radius_mm: np.ndarray
    epi_radius_mm: np.ndarray
    twist_deg: np.ndarray
    lv_centre_xy_px: np.ndarray
    insertion_points_rc_px: np.ndarray
    tissue_labels: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.radial_mm_s.shape[1]

    @property
    def curves_mm_s(self) -> np.ndarray:
        """(S, 3, T) radial, circumferential, longitudinal: the layout of ``Assessment.global_curves``."""
        return np.stack([self.radial_mm_s, self.circumferential_mm_s, self.longitudinal_mm_s], axis=1)

    @property
    def end_systolic_frame(self) -> int:
        """The frame with the smallest mean endocardial radius."""
        return int(np.argmin(self.endo_radius_mm.mean(axis=0)))

    @property
    def frame_times_ms(self) -> np.ndarray:
        """(T,) ms after the R wave."""
        return np.arange(self.num_frames) * self.rr_interval_ms / self.num_frames

    def save(self, path: str | Path) -> Path:
        """Write ``truth.npz`` (deterministic bytes, atomic)."""
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        arrays["slice_labels"] = np.asarray(self.slice_labels, dtype=str)
        arrays["rr_interval_ms"] = np.asarray(self.rr_interval_ms)
        arrays["tissue_names"] = np.asarray(TISSUE_NAMES, dtype=str)
        return write_npz(path, arrays)


def load_truth(path: str | Path) -> GroundTruth:
    """Read the ground truth of a scan: its folder (holding ``truth.npz``) or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    try:
        data = np.load(path, allow_pickle=False)
    except NPZ_READ_ERRORS as err:
        raise InputError(f"{path}: not a readable phantom ground-truth file ({err})") from err
    with data:
        missing = {*_ARRAY_FIELDS, "slice_labels", "rr_interval_ms"} - set(data)
        if missing:
            raise InputError(f"{path}: no {sorted(missing)} arrays; this is not a phantom truth.npz")
        return GroundTruth(
            slice_labels=tuple(str(label) for label in data["slice_labels"]),
            rr_interval_ms=float(data["rr_interval_ms"]),
            **{name: data[name] for name in _ARRAY_FIELDS},
        )
