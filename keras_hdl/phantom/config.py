"""Phantom settings and per-subject / per-scan random draws (docs/design.md §3.2).

- :class:`PhantomConfig`: what the user asks for (counts, matrix size, venc, noise model),
  validated on construction.
- :class:`SubjectParams`: one subject's anatomy, motion and image quality, drawn within
  healthy ranges by :func:`draw_subject`. Rescans of a subject share it.
- :class:`ScanParams`: what changes between rescans (in-plane position, noise), drawn by
  :func:`draw_scan`.

Randomness: every draw has its own generator seeded by ``(dataset seed, subject index,
stream)``, so a subject does not change when more subjects or rescans are asked for, and
the same seed always gives the same subjects.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.series import DEFAULT_VENC_CM_S

SLICE_REGIONS = ("base", "mid", "apex")
BACKGROUND_NOISE_MODELS = ("gaussian", "uniform")
PAPER_BACKGROUND_MEAN = 0.034
PAPER_BACKGROUND_STD = 0.034
"""The paper's background (air) phase noise, normalised units φ = p / 2048 − 1 (its Fig. 4)."""

MIN_FRAMES = 20
MAX_FRAMES = 200
MAX_SLICES = 9
MAX_SUBJECTS = 999
MAX_RESCANS = 9
MAX_SIZE = 512

MAX_FOV_MM = 300.0
MIN_FOV_MM = 160.0
"""The smallest field of view that holds the LV, the RV and their in-plane offsets."""
AUTO_SPACING_MM = 2.34
"""Automatic field of view: ``size × AUTO_SPACING_MM`` clipped to [MIN_FOV_MM, MAX_FOV_MM]."""
THINNEST_WALL_MM = 7.5
"""The thinnest end-diastolic myocardial wall any subject can have (apical slice), mm."""
MIN_PIXELS_ACROSS_WALL = 3.0


@dataclasses.dataclass(frozen=True)
class PhantomConfig:
    """What to generate; validated on construction (bad values raise :class:`InputError`).

    Attributes:
        subjects: number of subjects (N ≥ 1).
        rescans: scans per subject (R ≥ 1).
        slices: short-axis slices per scan, base → apex (1 slice: mid-ventricular).
        frames: frames per cardiac cycle (T ≥ 20).
        size: image rows = columns, pixels.
        seed: dataset seed; the same seed gives the same subjects and bytes.
        fov_mm: square field of view, mm; ``None`` picks ``size × 2.34 mm`` within [160, 300] mm.
        venc_cm_s: encoding velocity of (x, y, z), cm/s.
        background_noise: phase of air pixels: ``"gaussian"`` (mean/std below, normalised
            units) or ``"uniform"`` (uniform over the whole raw range 0..4096).
        background_mean, background_std: the Gaussian's parameters in normalised phase units.
        noise: ``False`` renders noise-free images (no Rician noise, no phase noise, air at
            zero velocity); for tests that compare with the analytic velocities.
        right_ventricle: ``False`` leaves the RV out of the images (as in a view that does not
            reach it); the insertion points in the ground truth are still those of the RV it
            would have.
    """

    subjects: int = 3
    rescans: int = 1
    slices: int = 3
    frames: int = 50
    size: int = 128
    seed: int = 0
    fov_mm: float | None = None
    venc_cm_s: tuple[float, float, float] = DEFAULT_VENC_CM_S
    background_noise: str = "gaussian"
    background_mean: float = PAPER_BACKGROUND_MEAN
    background_std: float = PAPER_BACKGROUND_STD
    noise: bool = True
    right_ventricle: bool = True

    def __post_init__(self) -> None:
        _check_int("subjects", self.subjects, 1, MAX_SUBJECTS, "--subjects")
        _check_int("rescans", self.rescans, 1, MAX_RESCANS, "--rescans")
        _check_int("slices", self.slices, 1, MAX_SLICES, "--slices")
        _check_int("frames", self.frames, MIN_FRAMES, MAX_FRAMES, "--frames")
        _check_int("size", self.size, 8, MAX_SIZE, "--size")
        if not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise InputError(f"phantom seed: expected an integer >= 0, got {self.seed!r}")
        if self.fov_mm is not None and not (np.isfinite(self.fov_mm) and MIN_FOV_MM <= self.fov_mm <= 1000):
            raise InputError(
                f"phantom fov_mm: {self.fov_mm} mm cannot hold the heart; use a field of view of at least "
                f"{MIN_FOV_MM:g} mm (or leave it unset for an automatic one)"
            )
        spacing = self.pixel_spacing_mm
        if THINNEST_WALL_MM / spacing < MIN_PIXELS_ACROSS_WALL:
            smallest = int(np.ceil(MIN_PIXELS_ACROSS_WALL * self.field_of_view_mm / THINNEST_WALL_MM))
            if self.fov_mm is None:
                smallest = int(np.ceil(MIN_PIXELS_ACROSS_WALL * MIN_FOV_MM / THINNEST_WALL_MM))
            raise InputError(
                f"phantom size: {self.size} px is too small for the anatomy: a {self.field_of_view_mm:g} mm field "
                f"of view gives {spacing:.2f} mm pixels, fewer than {MIN_PIXELS_ACROSS_WALL:g} pixels across the "
                f"thinnest ({THINNEST_WALL_MM:g} mm) myocardial wall; use --size {smallest} or more"
            )
        venc = np.asarray(self.venc_cm_s, np.float64)
        if venc.shape != (3,) or not np.isfinite(venc).all() or (venc <= 0).any():
            raise InputError(f"phantom venc_cm_s: expected 3 positive values (x, y, z) in cm/s, got {self.venc_cm_s}")
        object.__setattr__(self, "venc_cm_s", tuple(float(v) for v in venc))
        if self.background_noise not in BACKGROUND_NOISE_MODELS:
            raise InputError(
                f"phantom background_noise: unknown model {self.background_noise!r}; "
                f"choose one of {', '.join(BACKGROUND_NOISE_MODELS)}"
            )
        if not (np.isfinite(self.background_std) and self.background_std >= 0 and abs(self.background_mean) <= 1):
            raise InputError(
                "phantom background noise: the mean must lie in [-1, 1] and the std be >= 0 (normalised phase units), "
                f"got mean {self.background_mean}, std {self.background_std}"
            )

    @property
    def field_of_view_mm(self) -> float:
        """Square field of view, mm (the automatic one when ``fov_mm`` is ``None``)."""
        if self.fov_mm is not None:
            return float(self.fov_mm)
        return float(np.clip(self.size * AUTO_SPACING_MM, MIN_FOV_MM, MAX_FOV_MM))

    @property
    def pixel_spacing_mm(self) -> float:
        return self.field_of_view_mm / self.size

    @property
    def slice_levels(self) -> np.ndarray:
        """(S,) position of each slice from base (0) to apex (1); one slice sits mid-ventricle (0.5)."""
        return np.linspace(0.0, 1.0, self.slices) if self.slices > 1 else np.array([0.5])

    @property
    def slice_labels(self) -> list[str]:
        """(S,) ``base`` / ``mid`` / ``apex``: the third of the ventricle each slice lies in."""
        return [SLICE_REGIONS[min(int(level * 3), 2)] for level in self.slice_levels]

    def as_dict(self) -> dict:
        """JSON-ready settings, with the derived field of view and pixel spacing (mm)."""
        settings = dataclasses.asdict(self)
        settings["venc_cm_s"] = list(self.venc_cm_s)
        settings["fov_mm"] = self.field_of_view_mm
        settings["pixel_spacing_mm"] = self.pixel_spacing_mm
        return settings


def _check_int(name: str, value, low: int, high: int, option: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        raise InputError(f"phantom {name}: expected an integer in [{low}, {high}] ({option}), got {value!r}")


@dataclasses.dataclass(frozen=True)
class SubjectParams:
    """One synthetic subject: anatomy, motion and image quality (mm, ms, degrees, mm/s).

    Velocity targets are the *global* peaks (mean over the myocardium) at the base; the
    motion module turns them into wall excursions. Rotations follow the clinical
    convention "as seen from the apex" (see :mod:`keras_hdl.phantom.motion` for the signs
    as displayed).
    """

    subject_id: str
    rr_interval_ms: float
    endo_radius_mm: float
    """End-diastolic endocardial radius at the base."""
    wall_thickness_mm: float
    """End-diastolic wall thickness at the base."""
    apex_radius_scale: float
    """Endocardial radius at the apex over that at the base."""
    base_to_apex_mm: float
    """Distance between the basal and apical slice planes."""
    systole_fraction: float
    """End-systole as a fraction of the cycle."""
    early_filling_half_width: float
    atrial_centre: float
    atrial_half_width: float
    """Early-filling and atrial pulse shapes, fractions of the cycle."""
    radial_systolic_mm_s: float
    radial_early_ratio: float
    """Global radial peaks at the base: systolic (inward, +) and |early diastolic| / systolic."""
    longitudinal_systolic_mm_s: float
    longitudinal_early_ratio: float
    longitudinal_apex_fraction: float
    """Longitudinal peaks at the base, and the apex's excursion over the base's."""
    base_rotation_deg: float
    """End-systolic basal rotation, clockwise seen from the apex."""
    apex_rotation_deg: float
    """End-systolic apical rotation, counter-clockwise seen from the apex."""
    radial_atrial_fraction: float
    longitudinal_atrial_fraction: float
    """Shares of the radial / longitudinal excursion that return in the atrial kick."""
    rotation_early_fraction: float
    rotation_atrial_fraction: float
    """Shares of the rotation undone in early filling and in the atrial kick (the rest in diastasis)."""
    heart_offset_mm: tuple[float, float]
    """LV centre relative to the field-of-view centre, image (x, y), before the scan's shift."""
    rv_angle_deg: float
    """Direction of the RV from the LV centre, degrees counter-clockwise as displayed from +x."""
    papillary_angles_deg: tuple[float, float]
    """Anterolateral and posteromedial papillary muscles, degrees CCW as displayed."""
    snr: float
    """Blood signal over the Rician noise level."""
    signal_scale: float
    """Blood signal, scanner units."""
    myocardium_signal: float
    liver_signal: float
    chest_wall_signal: float
    """Signals relative to blood."""

    def as_dict(self) -> dict:
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }


@dataclasses.dataclass(frozen=True)
class ScanParams:
    """What differs between rescans of one subject: its id, in-plane position and noise."""

    scan_id: str
    rescan: int
    """1-based rescan number."""
    shift_mm: tuple[float, float]
    """In-plane shift of the whole patient in the field of view, image (x, y), mm."""
    noise_seed: int


def subject_id(index: int) -> str:
    """``subj001`` for the 0-based subject ``index`` 0."""
    return f"subj{index + 1:03d}"


def _stream(seed: int, subject_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(subject_index), int(stream)])


def draw_subject(seed: int, index: int) -> SubjectParams:
    """The 0-based subject ``index`` of the dataset with ``seed``: healthy-range draws."""
    rng = _stream(seed, index, 0)

    def uniform(low: float, high: float) -> float:
        return round(float(rng.uniform(low, high)), 6)

    anterolateral = uniform(25, 45)
    posteromedial = uniform(-115, -85)
    return SubjectParams(
        subject_id=subject_id(index),
        rr_interval_ms=uniform(800, 1100),
        endo_radius_mm=uniform(23, 27),
        wall_thickness_mm=uniform(8.5, 10),
        apex_radius_scale=uniform(0.62, 0.72),
        base_to_apex_mm=uniform(40, 52),
        systole_fraction=uniform(0.33, 0.37),
        early_filling_half_width=uniform(0.06, 0.07),
        atrial_centre=uniform(0.84, 0.88),
        atrial_half_width=uniform(0.045, 0.055),
        radial_systolic_mm_s=uniform(35, 38.5),
        radial_early_ratio=uniform(1.4, 1.5),
        longitudinal_systolic_mm_s=uniform(57, 75),
        longitudinal_early_ratio=uniform(1.6, 1.85),
        longitudinal_apex_fraction=uniform(0.15, 0.3),
        base_rotation_deg=uniform(4, 7),
        apex_rotation_deg=uniform(7, 11),
        radial_atrial_fraction=uniform(0.15, 0.2),
        longitudinal_atrial_fraction=uniform(0.14, 0.2),
        rotation_early_fraction=uniform(0.55, 0.7),
        rotation_atrial_fraction=uniform(0.08, 0.15),
        heart_offset_mm=(uniform(-6, 6), uniform(-6, 6)),
        rv_angle_deg=uniform(170, 190),
        papillary_angles_deg=(anterolateral, posteromedial),
        snr=uniform(80, 140),
        signal_scale=uniform(600, 1000),
        myocardium_signal=uniform(0.25, 0.35),
        liver_signal=uniform(0.4, 0.55),
        chest_wall_signal=uniform(0.5, 0.7),
    )


def draw_scan(seed: int, subject_index: int, rescan_index: int) -> ScanParams:
    """The 0-based ``rescan_index`` of subject ``subject_index``: its own position and noise."""
    rng = _stream(seed, subject_index, 1 + rescan_index)
    shift = rng.uniform(-8, 8, size=2)
    return ScanParams(
        scan_id=f"{subject_id(subject_index)}_scan{rescan_index + 1}",
        rescan=rescan_index + 1,
        shift_mm=(round(float(shift[0]), 6), round(float(shift[1]), 6)),
        noise_seed=int(rng.integers(0, 2**63 - 1)),
    )
