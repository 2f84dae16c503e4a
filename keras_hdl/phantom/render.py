"""Render a phantom scan: magnitude, phase and masks of every frame and slice, vectorised.

Scene (mm, about the LV centre; X to the right, Y *up* as displayed)
--------------------------------------------------------------------
Painted in this order, each shape with a one-pixel anti-aliased edge (partial volume):
body (chest-wall band, soft tissue inside), lungs, liver, descending aorta (static);
then the right ventricle (wall and blood, an ellipse on the image's left, its outer
boundary meeting the LV epicardium at the two RV insertion points), the LV myocardium
(annulus), the LV blood pool and two papillary muscles (dark blobs in the cavity). The
RV and the papillary muscles turn with the LV rotation φ(t) about the LV centre, and the
papillary muscles follow the cavity's homologous radial motion, so twist is visible.
The masks hold the LV myocardium only (pixel centre inside the annulus).

Velocity (noise-free, mm/s in image axes, see :mod:`keras_hdl.phantom.motion` for signs):
inside the heart (LV, RV, papillary muscles) the analytic field — inward radial
v_r(r, t), circumferential r dφ/dt, through-plane dz/dt — turned into (vx, vy) with
:func:`keras_hdl.geometry.cylindrical_unit_vectors`; static tissue is at rest.

Acquisition: the magnitude is blurred (Gaussian, σ = 0.5 px), then gets Rician noise
|signal + σ (n₁ + i n₂)| and is rounded to scanner units. The phase of a tissue pixel
encodes its velocity with venc plus Gaussian noise of std venc / (π · SNR_local) (phase
noise of a pixel with signal-to-noise ratio SNR_local); pixels darker than 10 % of blood
(air, lungs) get the configured background noise instead.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from keras_hdl.geometry import cylindrical_unit_vectors
from keras_hdl.phantom.config import PhantomConfig, ScanParams, SubjectParams
from keras_hdl.phantom.motion import SliceMotion, radial_inward_velocity
from keras_hdl.phantom.truth import TISSUE_CODES
from keras_hdl.series import PHASE_LEVELS, denormalize_phase, velocity_to_phase

MM_S_PER_CM_S = 10.0
BLUR_SIGMA_PX = 0.5
BACKGROUND_SIGNAL_FRACTION = 0.1
"""Pixels whose noise-free signal is below this fraction of blood get background phase noise."""

Ellipse = tuple[tuple[float, float], tuple[float, float], float]
"""Centre (X, up) mm about the LV centre, semi-axes mm, angle of the first axis (degrees CCW as displayed)."""

BODY: Ellipse = ((-20.0, -25.0), (150.0, 115.0), 0.0)
CHEST_WALL_THICKNESS_MM = 15.0
LUNGS: tuple[Ellipse, ...] = (((-92.0, 12.0), (42.0, 75.0), -10.0), ((68.0, 12.0), (42.0, 72.0), 10.0))
LIVER: Ellipse = ((-45.0, -95.0), (95.0, 45.0), 10.0)
LIVER_LEVEL_GROWTH = 0.4
"""The liver's cross-section grows by this factor from the basal to the apical slice."""
AORTA: Ellipse = ((38.0, -62.0), (11.0, 11.0), 0.0)
SIGNAL = {"body": 0.5, "lung": 0.005, "aorta": 0.9, "rv_wall": 0.3, "rv_blood": 0.92, "lv_blood": 1.0}
"""Signals relative to blood; myocardium, liver and chest wall are drawn per subject."""

# Heart shapes, relative to the slice's end-diastolic epicardial radius r_epi.
RV_DISTANCE = 0.72
RV_SEMI_AXES = (0.85, 1.35)
"""RV ellipse: centre at RV_DISTANCE · r_epi from the LV centre, semi-axes along / across that direction."""
RV_APEX_SHRINK = 0.3
RV_WALL_MM = 3.0
PAPILLARY_RADIAL_POSITION = 0.58
"""Papillary centres sit at this fraction of the endocardial radius (homologous cavity motion)."""
PAPILLARY_SIZE = 0.15
"""Papillary muscle radius over the end-diastolic endocardial radius."""
INSERTION_SEARCH_ANGLES = 720


@dataclasses.dataclass(frozen=True)
class ImageGrid:
    """Pixel centres about the LV centre, mm. Arrays are (H, W)."""

    spacing_mm: float
    centre_xy_px: tuple[float, float]
    dx: np.ndarray
    """Offset along image x (columns)."""
    dy: np.ndarray
    """Offset along image y (rows, downwards)."""

    @classmethod
    def for_scan(cls, subject: SubjectParams, scan: ScanParams, config: PhantomConfig) -> ImageGrid:
        spacing = config.pixel_spacing_mm
        middle = (config.size - 1) / 2.0
        centre_x = middle + (subject.heart_offset_mm[0] + scan.shift_mm[0]) / spacing
        centre_y = middle + (subject.heart_offset_mm[1] + scan.shift_mm[1]) / spacing
        index = np.arange(config.size, dtype=np.float64)
        dx = np.broadcast_to((index[None, :] - centre_x) * spacing, (config.size, config.size))
        dy = np.broadcast_to((index[:, None] - centre_y) * spacing, (config.size, config.size))
        return cls(spacing, (centre_x, centre_y), dx, dy)

    @property
    def up(self) -> np.ndarray:
        """(H, W) offset upwards as displayed (−dy), mm."""
        return -self.dy

    @property
    def radius(self) -> np.ndarray:
        return np.hypot(self.dx, self.dy)

    def coverage(self, signed_distance: np.ndarray) -> np.ndarray:
        """Pixel coverage in [0, 1] of a shape from its signed distance (mm, negative inside)."""
        return np.clip(0.5 - signed_distance / self.spacing_mm, 0.0, 1.0).astype(np.float32)

    def pixel_of(self, x_mm: np.ndarray, up_mm: np.ndarray) -> np.ndarray:
        """(..., 2) pixel (row, col) of points given about the LV centre in (X, up) mm."""
        return np.stack(
            [self.centre_xy_px[1] - up_mm / self.spacing_mm, self.centre_xy_px[0] + x_mm / self.spacing_mm], -1
        )


def ellipse_distance(x, up, centre, semi_axes, angle_rad) -> np.ndarray:
    """First-order signed distance (mm, negative inside) to an ellipse, broadcast over all arguments.

    F = (u/a)² + (v/b)² − 1 in the ellipse's own axes; distance ≈ F / |∇F|, exact on the
    boundary (which is all the anti-aliasing needs) and of the right sign everywhere.
    """
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    rel_x, rel_up = x - centre[0], up - centre[1]
    u = rel_x * cos + rel_up * sin
    v = -rel_x * sin + rel_up * cos
    a, b = semi_axes
    level = (u / a) ** 2 + (v / b) ** 2 - 1.0
    gradient = 2.0 * np.hypot(u / a**2, v / b**2)
    return level / np.maximum(gradient, 1e-6)


def _paint(signal, labels, coverage, value, tissue: str) -> None:
    """Paint a shape over the scene in place: partial-volume signal, label where coverage ≥ 0.5."""
    signal += coverage * (np.float32(value) - signal)
    np.copyto(labels, np.uint8(TISSUE_CODES[tissue]), where=coverage >= 0.5)


@dataclasses.dataclass(frozen=True)
class Scene:
    """Noise-free rendering of one scan. (T, S, ...) arrays.

    Attributes:
        signal: (T, S, H, W) float32 magnitude before blur and noise, scanner units.
        velocity_mm_s: (T, S, 3, H, W) float32 noise-free velocity (x, y, z image axes), mm/s.
        masks: (T, S, H, W) bool LV myocardium.
        labels: (T, S, H, W) uint8 tissue codes (:data:`keras_hdl.phantom.truth.TISSUE_NAMES`).
        radial_mm_s, circumferential_mm_s: (T, S, H, W) float32 analytic components about the LV centre.
        insertion_points_rc_px: (T, S, 2, 2) anterior and inferior RV insertion points, pixel (row, col).
    """

    signal: np.ndarray
    velocity_mm_s: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    radial_mm_s: np.ndarray
    circumferential_mm_s: np.ndarray
    insertion_points_rc_px: np.ndarray


def _static_anatomy(subject: SubjectParams, grid: ImageGrid, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, H, W) signal (relative to blood) and labels of everything but the heart."""
    shape = (levels.size, *grid.dx.shape)
    signal = np.zeros(shape, np.float32)
    labels = np.zeros(shape, np.uint8)
    body_centre, body_axes, body_angle = BODY
    inside_chest_wall = (body_centre, tuple(axis - CHEST_WALL_THICKNESS_MM for axis in body_axes), body_angle)
    liver_growth = (1.0 + LIVER_LEVEL_GROWTH * levels)[:, None, None]  # (S, 1, 1)
    shapes = [
        (BODY, 1.0, subject.chest_wall_signal, "chest_wall"),
        (inside_chest_wall, 1.0, SIGNAL["body"], "body"),
        *[(lung, 1.0, SIGNAL["lung"], "lung") for lung in LUNGS],
        (LIVER, liver_growth, subject.liver_signal, "liver"),
        (AORTA, 1.0, SIGNAL["aorta"], "aorta"),
    ]
    for (centre, (semi_a, semi_b), angle_deg), scale, value, tissue in shapes:
        distance = ellipse_distance(
            grid.dx[None], grid.up[None], centre, (semi_a * scale, semi_b * scale), np.deg2rad(angle_deg)
        )
        _paint(signal, labels, grid.coverage(distance), value, tissue)
    return signal, labels


def _rv_geometry(
    subject: SubjectParams, motion: SliceMotion, rotation: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The RV's outer ellipse: centre (X, up) (T, S) mm, semi-axes (S,) mm, direction (T, S) rad."""
    scale = motion.epi_radius_ed_mm * (1.0 - RV_APEX_SHRINK * motion.levels)  # (S,)
    direction = np.deg2rad(subject.rv_angle_deg) + rotation  # (T, S)
    distance = RV_DISTANCE * scale
    centre = (distance * np.cos(direction), distance * np.sin(direction))
    semi_axes = (RV_SEMI_AXES[0] * scale, RV_SEMI_AXES[1] * scale)
    return centre, semi_axes, direction


def _insertion_points(grid: ImageGrid, epi: np.ndarray, rv_centre, rv_axes, rv_direction) -> np.ndarray:
    """(T, S, 2, 2) where the RV's outer boundary meets the LV epicardium: [anterior, inferior] × (row, col).

    Walking counter-clockwise (as displayed) along the epicardium, the anterior point is
    where the walk enters the RV, the inferior one where it leaves.
    """
    angles = np.linspace(0.0, 2.0 * np.pi, INSERTION_SEARCH_ANGLES, endpoint=False)
    x = epi[..., None] * np.cos(angles)
    up = epi[..., None] * np.sin(angles)
    expand = (..., None)
    inside = (
        ellipse_distance(
            x,
            up,
            (rv_centre[0][expand], rv_centre[1][expand]),
            (rv_axes[0][:, None], rv_axes[1][:, None]),
            rv_direction[expand],
        )
        <= 0
    )  # (T, S, K)
    enter = np.argmax(inside & ~np.roll(inside, 1, axis=-1), axis=-1)
    leave = np.argmax(inside & ~np.roll(inside, -1, axis=-1), axis=-1)
    chosen = angles[np.stack([enter, leave], axis=-1)]  # (T, S, 2)
    return grid.pixel_of(epi[..., None] * np.cos(chosen), epi[..., None] * np.sin(chosen))


def render_scene(
    subject: SubjectParams, scan: ScanParams, config: PhantomConfig, motion: SliceMotion, grid: ImageGrid
) -> Scene:
    """Noise-free signal, velocity, masks and labels of every frame and slice (see module docstring)."""
    frames = config.frames
    tau = np.arange(frames) / frames

    def per_frame(curves: np.ndarray) -> np.ndarray:
        """(S, T) motion curve → (T, S, 1, 1) float32, ready to broadcast over pixels."""
        return curves.T[..., None, None].astype(np.float32)

    endo = per_frame(motion.endo_radius_mm(tau))
    epi = per_frame(motion.epi_radius_mm(tau))
    endo_rate = per_frame(motion.endo_radius_rate_mm_s(tau))
    rotation = motion.rotation_rad(tau).T
    rotation_rate = per_frame(motion.rotation_rate_rad_s(tau))
    through_plane = per_frame(motion.longitudinal_velocity_mm_s(tau))

    static_signal, static_labels = _static_anatomy(subject, grid, motion.levels)
    signal = np.repeat(static_signal[None], frames, axis=0)
    labels = np.repeat(static_labels[None], frames, axis=0)
    x, up, radius = grid.dx.astype(np.float32), grid.up.astype(np.float32), grid.radius.astype(np.float32)

    rv_centre, rv_axes, rv_direction = _rv_geometry(subject, motion, rotation)
    expand = (..., None, None)
    rv_centre_per_frame = (rv_centre[0][expand].astype(np.float32), rv_centre[1][expand].astype(np.float32))
    rv_outer_axes = tuple(axis[:, None, None].astype(np.float32) for axis in rv_axes)
    rv_inner_axes = tuple(axis - np.float32(RV_WALL_MM) for axis in rv_outer_axes)
    rv_angle = rv_direction[expand].astype(np.float32)
    rv_outer = ellipse_distance(x, up, rv_centre_per_frame, rv_outer_axes, rv_angle)
    rv_inner = ellipse_distance(x, up, rv_centre_per_frame, rv_inner_axes, rv_angle)
    if config.right_ventricle:
        _paint(signal, labels, grid.coverage(rv_outer), SIGNAL["rv_wall"], "rv_wall")
        _paint(signal, labels, grid.coverage(rv_inner), SIGNAL["rv_blood"], "rv_blood")
    _paint(signal, labels, grid.coverage(radius - epi), subject.myocardium_signal, "lv_myocardium")
    _paint(signal, labels, grid.coverage(radius - endo), SIGNAL["lv_blood"], "lv_blood")
    papillary_radius = (PAPILLARY_SIZE * motion.endo_radius_ed_mm[:, None, None]).astype(np.float32)
    for angle_deg in subject.papillary_angles_deg:
        angle = (np.deg2rad(angle_deg) + rotation)[expand].astype(np.float32)
        distance_from_centre = PAPILLARY_RADIAL_POSITION * endo
        blob = np.hypot(x - distance_from_centre * np.cos(angle), up - distance_from_centre * np.sin(angle))
        _paint(signal, labels, grid.coverage(blob - papillary_radius), subject.myocardium_signal, "papillary")
    signal *= np.float32(subject.signal_scale)

    in_heart = (radius <= epi) | ((rv_outer <= 0) & config.right_ventricle)
    radial = radial_inward_velocity(radius, endo, endo_rate).astype(np.float32) * in_heart
    circumferential = (radius * rotation_rate).astype(np.float32) * in_heart
    radial_dir, circumferential_dir = cylindrical_unit_vectors(grid.dx, grid.dy)
    velocity = np.empty((frames, motion.levels.size, 3, *radius.shape), np.float32)
    for axis in range(2):
        velocity[:, :, axis] = radial * radial_dir[..., axis] + circumferential * circumferential_dir[..., axis]
    velocity[:, :, 2] = np.broadcast_to(through_plane, in_heart.shape) * in_heart

    return Scene(
        signal=signal,
        velocity_mm_s=velocity,
        masks=(radius >= endo) & (radius <= epi),
        labels=labels,
        radial_mm_s=radial,
        circumferential_mm_s=circumferential,
        insertion_points_rc_px=_insertion_points(grid, epi[..., 0, 0], rv_centre, rv_axes, rv_direction),
    )


def acquire(
    scene: Scene, subject: SubjectParams, scan: ScanParams, config: PhantomConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude (T, S, H, W) and raw phase (T, S, 3, H, W), both float32, from a noise-free scene.

    With ``config.noise`` off: no Rician noise, no phase noise, air at zero velocity (raw 2048).
    """
    rng = np.random.default_rng(scan.noise_seed)
    blurred = ndimage.gaussian_filter(scene.signal, sigma=(0, 0, BLUR_SIGMA_PX, BLUR_SIGMA_PX), mode="nearest")
    noise_level = np.float32(subject.signal_scale / subject.snr)
    venc_mm_s = np.asarray(config.venc_cm_s, np.float32).reshape(3, 1, 1) * MM_S_PER_CM_S
    velocity = scene.velocity_mm_s
    if config.noise:
        real = blurred + noise_level * rng.standard_normal(blurred.shape, dtype=np.float32)
        imaginary = noise_level * rng.standard_normal(blurred.shape, dtype=np.float32)
        magnitude = np.hypot(real, imaginary)
        local_snr = np.maximum(blurred, BACKGROUND_SIGNAL_FRACTION * subject.signal_scale) / noise_level
        velocity_noise_std = venc_mm_s / (np.pi * local_snr[:, :, None])  # (T, S, 3, H, W) mm/s
        velocity = velocity + velocity_noise_std * rng.standard_normal(velocity.shape, dtype=np.float32)
    else:
        magnitude = blurred
    phase = velocity_to_phase(velocity / MM_S_PER_CM_S, config.venc_cm_s)
    if config.noise:
        foreground = (blurred >= BACKGROUND_SIGNAL_FRACTION * subject.signal_scale)[:, :, None]
        phase = np.where(foreground, phase, _background_phase(rng, phase.shape, config))
    return np.rint(magnitude).astype(np.float32), phase


def _background_phase(rng: np.random.Generator, shape: tuple[int, ...], config: PhantomConfig) -> np.ndarray:
    """Raw phase of air pixels: the configured Gaussian (normalised units) or uniform over 0..4096."""
    if config.background_noise == "uniform":
        return rng.integers(0, PHASE_LEVELS + 1, size=shape).astype(np.float32)
    normalised = config.background_mean + config.background_std * rng.standard_normal(shape, dtype=np.float32)
    return np.rint(denormalize_phase(normalised))
