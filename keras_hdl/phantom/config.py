"""Phantom settings and per-subject / per-scan random draws (docs/design.md §3.2).

- :class:`PhantomConfig`: what the user asks for (counts, matrix size, venc, noise model,
  the realism switches), validated on construction.
- :class:`SubjectParams`: one subject's anatomy, motion and image quality, drawn within
  healthy ranges by :func:`draw_subject`. Rescans of a subject share it. With
  ``anatomy="v2"`` it also carries a :class:`WallShape` (trabeculae, uneven and elliptical
  wall, regional amplitudes, the basal cut).
- :class:`~keras_hdl.phantom.scan.ScanParams` (in :mod:`keras_hdl.phantom.scan`): what changes between
  rescans (in-plane position, noise), drawn by :func:`~keras_hdl.phantom.scan.draw_scan`; with
  ``acquisition="varied"`` (or eddy currents) it also carries an ``Acquisition`` drawn per scan.

Realism switches (all off by default, so the default phantom is today's, byte for byte):

- ``anatomy="v2"``: the motion cues — the slice shows the heart's cross-section at the
  level the through-plane motion brings into it, and the wall has shapes that make
  rotation and regional motion visible (:mod:`keras_hdl.phantom.render`).
- ``acquisition="varied"``: every scan draws its own pixel spacing, matrix, in-plane
  orientation, LV position, venc, heart rate, frame count, SNR and coil shading.
- ``aliasing``: phase wraps where |v| > venc instead of clipping.
- ``eddy_currents``: a smooth, static background-phase offset (a quadratic surface).

:data:`REALISM_V2` names the set the retraining on the new phantom turns on.

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
ANATOMY_MODELS = ("v1", "v2")
ACQUISITION_MODELS = ("fixed", "varied")
REALISM_V2 = {"anatomy": "v2", "acquisition": "varied"}
"""The PhantomConfig settings of "phantom v2": every motion cue and a varied acquisition per scan."""
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
        anatomy: ``"v1"`` (annulus at a fixed level) or ``"v2"`` (motion cues, see module docstring).
        acquisition: ``"fixed"`` (``size``, ``fov_mm``, ``frames``, ``venc_cm_s`` for every scan) or
            ``"varied"`` (drawn per scan, :func:`keras_hdl.phantom.scan.draw_acquisition`; those four are then ignored).
        aliasing: wrap the phase where |v| > venc (default: clip).
        eddy_currents: add a static quadratic background-phase offset per slice and direction.
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
    anatomy: str = "v1"
    acquisition: str = "fixed"
    aliasing: bool = False
    eddy_currents: bool = False

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
        for name, value, choices in (
            ("anatomy", self.anatomy, ANATOMY_MODELS),
            ("acquisition", self.acquisition, ACQUISITION_MODELS),
        ):
            if value not in choices:
                raise InputError(f"phantom {name}: unknown model {value!r}; choose one of {', '.join(choices)}")
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
        """JSON-ready settings, with the derived field of view and pixel spacing (mm); realism switches when on."""
        settings = dataclasses.asdict(self)
        for name, default in (
            ("anatomy", "v1"),
            ("acquisition", "fixed"),
            ("aliasing", False),
            ("eddy_currents", False),
        ):
            if settings[name] == default:
                del settings[name]
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
    """Direction of the RV from the LV centre, degrees counter-clockwise as displayed from +x.

    The displayed view looks from the base towards the apex (:mod:`keras_hdl.phantom.motion`), the
    mirror image of the standard short-axis display (seen from the apex, RV on the left): the RV lies
    on the image's right (about 0°), the anterolateral papillary muscle upper left, the posteromedial
    one at the bottom, as a heart seen from its base shows them (RV to the patient's right and front).
    """
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
    wall: WallShape | None = None
    """The v2 wall (``anatomy="v2"``); ``None`` draws today's annulus at a fixed level."""

    def as_dict(self) -> dict:
        settings = json_ready(dataclasses.asdict(self))
        if self.wall is None:
            del settings["wall"]
        return settings


def json_ready(value):
    """Tuples → lists, recursively (dicts and sequences), for JSON."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [json_ready(item) for item in value]
    return value


@dataclasses.dataclass(frozen=True)
class WallShape:
    """The v2 wall of one subject: what makes rotation, regional motion and the base visible.

    Angles are *material* angles ψ (degrees CCW as displayed, about the LV centre, at
    end-diastole): every feature turns with the tissue. See :mod:`keras_hdl.phantom.render`.
    """

    ellipticity: float
    """ε: the cross-section's radii are scaled by 1 + ε cos 2(ψ − ellipse_angle)."""
    ellipse_angle_deg: float
    thickness_variation: float
    """α: the end-diastolic wall thickness is scaled by 1 + α cos(ψ − thickness_angle)."""
    thickness_angle_deg: float
    trabeculae: tuple[tuple[float, float, float], ...]
    """(angle deg, depth mm, half-width deg) of each endocardial trabecula (raised-cosine bumps into the cavity)."""
    sector_amplitudes: tuple[float, ...]
    """In-plane (radial) excursion scale at the centres of six 60° sectors from ψ = 0, interpolated periodically."""
    hypokinesis: tuple[float, float, float]
    """(centre deg, half-width deg, depth): a Gaussian dip of the excursion scale; depth 0 in most subjects."""
    base_gap_deg: float
    """Where the myocardium ends first above the base (the outflow-tract side)."""
    base_extent_mm: float | None
    """How far above the basal plane (level 0) the wall reaches opposite the gap (0 at the gap itself);
    ``None``: the wall goes on above the base (no cut)."""

    @classmethod
    def plain(cls) -> WallShape:
        """A circular, even, smooth wall, uniform motion, reaching far above the base (tests isolate cues)."""
        return cls(0.0, 0.0, 0.0, 0.0, (), (1.0,) * NUM_AMPLITUDE_SECTORS, (0.0, 30.0, 0.0), 0.0, None)


NUM_AMPLITUDE_SECTORS = 6
HYPOKINESIS_PROBABILITY = 0.3


def draw_wall_shape(seed: int, index: int) -> WallShape:
    """The v2 wall of subject ``index`` (its own random stream: today's subject draws do not change)."""
    rng = subject_stream(seed, index, WALL_STREAM)

    def uniform(low: float, high: float, size: int | None = None):
        values = np.round(rng.uniform(low, high, size), 6)
        return float(values) if size is None else tuple(float(v) for v in values)

    count = int(rng.integers(10, 17))
    angles = np.sort(rng.uniform(0, 360, count))
    trabeculae = tuple((round(float(angle), 6), uniform(1.5, 3.5), uniform(5, 10)) for angle in angles)
    hypokinetic = rng.random() < HYPOKINESIS_PROBABILITY
    return WallShape(
        ellipticity=uniform(0.03, 0.1),
        ellipse_angle_deg=uniform(0, 180),
        thickness_variation=uniform(0.1, 0.25),
        thickness_angle_deg=uniform(0, 360),
        trabeculae=trabeculae,
        sector_amplitudes=uniform(0.8, 1.2, NUM_AMPLITUDE_SECTORS),
        hypokinesis=(uniform(0, 360), uniform(30, 60), uniform(0.4, 0.7) if hypokinetic else 0.0),
        base_gap_deg=uniform(0, 360),
        base_extent_mm=uniform(40, 55),
    )


WALL_STREAM = 1000


def subject_id(index: int) -> str:
    """``subj001`` for the 0-based subject ``index`` 0."""
    return f"subj{index + 1:03d}"


def subject_stream(seed: int, subject_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(subject_index), int(stream)])


def draw_subject(seed: int, index: int, anatomy: str = "v1") -> SubjectParams:
    """The 0-based subject ``index`` of the dataset with ``seed``: healthy-range draws (and its v2 wall)."""
    rng = subject_stream(seed, index, 0)

    def uniform(low: float, high: float) -> float:
        return round(float(rng.uniform(low, high)), 6)

    # seen from the base (keras_hdl.phantom.motion): the mirror image of the standard apex view
    anterolateral = uniform(135, 155)
    posteromedial = uniform(-95, -65)
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
        rv_angle_deg=uniform(-10, 10),
        papillary_angles_deg=(anterolateral, posteromedial),
        snr=uniform(80, 140),
        signal_scale=uniform(600, 1000),
        myocardium_signal=uniform(0.25, 0.35),
        liver_signal=uniform(0.4, 0.55),
        chest_wall_signal=uniform(0.5, 0.7),
        wall=draw_wall_shape(seed, index) if anatomy == "v2" else None,
    )
