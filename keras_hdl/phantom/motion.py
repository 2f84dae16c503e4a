"""Analytic LV motion of the phantom: time courses, material points and velocities (docs/design.md §3.2).

Geometry and signs (the velocity assessment uses exactly these)
---------------------------------------------------------------
Image axes: x = increasing column, y = increasing row (row 0 at the top), z = slice
normal = x × y, i.e. *into* the screen. The apex lies on the positive-normal side, so the
viewer of a displayed image stands at the base and looks towards the apex.

- Radial velocity is positive **towards the LV centre** (contraction: systole +,
  early diastole −).
- Circumferential velocity is positive **counter-clockwise as displayed**; angles θ are
  measured counter-clockwise as displayed from +x, θ = atan2(−dy, dx).
- Longitudinal velocity is v_z, positive **towards the apex**: the base descends towards
  the apex in systole (+) and returns in early diastole (−); the apex barely moves.
- Twist: clinically, in systole the base turns clockwise and the apex counter-clockwise
  *as seen from the apex*. Seen from the apex means looking along −z, the opposite of the
  displayed view (which looks along +z), and reversing the viewpoint reverses the sense
  of a rotation. So **as displayed** the base turns counter-clockwise (positive
  rotation and positive circumferential velocity in systole) and the apex clockwise
  (negative). Slices in between interpolate linearly, so mid-ventricle turns little.

Motion
------
Time τ ∈ [0, 1) is the fraction of the cycle; frame t of T sits at τ = t / T, i.e.
t · RR / T ms after the R wave (end-diastole at t = 0). Each motion component follows
one cycle shape s(τ): 0 at end-diastole, 1 at end-systole, back to 0 at the end of the
cycle. Its rate is a sum of raised-cosine pulses: systole (three pulses over the first
``systole_fraction`` of the cycle, the first strongest, so velocity peaks early in
systole), rapid early filling (two pulses right after end-systole), diastasis (one slow,
broad pulse), atrial kick (one pulse near τ ≈ 0.86). Of the systolic excursion a fraction
e returns in early filling, a in the atrial kick and the rest, 1 − e − a, in diastasis.
For T = 50 the peaks fall at frames ≈ 4–5 (window 1–15), ≈ 19–22 (window 15–35) and
≈ 42–44 (window 35–47).

- Wall (incompressible annulus): the endocardial radius is r_endo(τ) = r_endo(0) − ΔR s(τ);
  a wall point at end-diastolic radius ρ moves to r(ρ, τ) = sqrt(r_endo(τ)² + ρ² −
  r_endo(0)²), so the wall area π(r_epi² − r_endo²) is constant and the wall thickens in
  systole. Its outward speed is dr/dt = r_endo ṙ_endo / r, so the inward (radial)
  velocity is v_r = −r_endo ṙ_endo / r. Inside the cavity (papillary muscles, blood) the
  motion is a homologous scaling r = ρ r_endo(τ) / r_endo(0), v_r = −ṙ_endo r / r_endo,
  continuous with the wall at the endocardium.
- Rotation: every point turns by φ(τ) = Φ s(τ) about the LV centre; v_c = r dφ/dt.
- Through-plane: z(τ) = D s(τ) towards the apex; v_z = dz/dt, the same over a slice.

The excursions ΔR, Φ, D and the early fractions e are calibrated from each subject's
target global peaks (mean over the wall), so the ground-truth curves land in the healthy
ranges of docs/design.md §3.2.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.phantom.config import SubjectParams

SYSTOLIC_PULSE_WEIGHTS = (1.0, 0.9, 0.7)
EARLY_FILLING_PULSE_WEIGHTS = (1.0, 0.5)
SINGLE_PULSE_WEIGHTS = (1.0,)
"""Diastasis and atrial kick: one pulse each."""

APEX_WALL_SCALE = 0.88
"""End-diastolic wall thickness at the apex over that at the base."""
RADIAL_LEVEL_DROP = (0.1, 0.15)
"""Radial systolic target at level f (0 base … 1 apex): base value × (1 − a f − b f²)."""
CALIBRATION_ITERATIONS = 30
MIN_DIASTASIS_FRACTION = 0.02
"""Early filling may return at most 1 − a − this of the excursion."""


def pulse_train(tau: np.ndarray, start: float, half_width: float, weights) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative fraction F(τ) ∈ [0, 1] and its rate dF/dτ of a train of raised-cosine pulses.

    Pulse k = 0..n−1 is 0.5 (1 + cos(π (τ − c_k) / h)) on |τ − c_k| < h with c_k = start +
    (k + 1) h, times ``weights[k]``; neighbours overlap by half, and the total area is
    normalised to 1, so F rises smoothly from 0 at ``start`` to 1 at ``start + (n + 1) h``.

    Args:
        tau: (...) cycle fractions.
    Returns:
        ``(fraction, rate)``, each (...); rate is per unit τ.
    """
    weights = np.asarray(weights, np.float64)
    total = weights.sum()
    centres = start + half_width * np.arange(1, weights.size + 1)
    u = np.clip((np.asarray(tau, np.float64)[..., None] - centres) / half_width, -1.0, 1.0)
    fraction = ((u + 1.0) / 2.0 + np.sin(np.pi * u) / (2.0 * np.pi)) @ weights / total
    rate = (0.5 * (1.0 + np.cos(np.pi * u))) @ weights / (total * half_width)
    return fraction, rate


def peak_rate(half_width: float, weights) -> float:
    """Largest dF/dτ of :func:`pulse_train` for decreasing weights (at the first pulse's centre)."""
    weights = np.asarray(weights, np.float64)
    return float(weights[0] / (weights.sum() * half_width))


def fraction_at_peak(weights) -> float:
    """F at the first pulse's centre (where the rate peaks): half the first pulse's share."""
    weights = np.asarray(weights, np.float64)
    return float(weights[0] / (2.0 * weights.sum()))


@dataclasses.dataclass(frozen=True)
class CycleTiming:
    """When the phases of the cycle happen, as fractions of the cycle."""

    systole_fraction: float
    early_filling_half_width: float
    atrial_centre: float
    atrial_half_width: float

    @property
    def systolic_half_width(self) -> float:
        return self.systole_fraction / (len(SYSTOLIC_PULSE_WEIGHTS) + 1)

    @property
    def diastasis_bounds(self) -> tuple[float, float]:
        """Start and end of diastasis: end of early filling, start of the atrial kick."""
        start = self.systole_fraction + (len(EARLY_FILLING_PULSE_WEIGHTS) + 1) * self.early_filling_half_width
        return start, self.atrial_centre - self.atrial_half_width

    def shape(self, tau: np.ndarray, returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cycle shape s(τ) and ds/dτ.

        Args:
            tau: (N,) cycle fractions (wrapped into [0, 1)).
            returns: (S, 2) the shares e, a of the excursion that return in early filling and
                in the atrial kick (the rest returns in diastasis).
        Returns:
            ``(s, ds_dtau)``, each (S, N).
        """
        tau = np.mod(np.asarray(tau, np.float64), 1.0)
        returns = np.asarray(returns, np.float64)
        early, atrial = returns[:, :1], returns[:, 1:]
        slow = 1.0 - early - atrial
        diastasis_start, diastasis_end = self.diastasis_bounds
        pulses = [
            pulse_train(tau, 0.0, self.systolic_half_width, SYSTOLIC_PULSE_WEIGHTS),
            pulse_train(tau, self.systole_fraction, self.early_filling_half_width, EARLY_FILLING_PULSE_WEIGHTS),
            pulse_train(tau, diastasis_start, (diastasis_end - diastasis_start) / 2, SINGLE_PULSE_WEIGHTS),
            pulse_train(tau, diastasis_end, self.atrial_half_width, SINGLE_PULSE_WEIGHTS),
        ]
        signs = [np.ones_like(early), -early, -slow, -atrial]  # each (S, 1)
        s = sum(sign * fraction[None] for sign, (fraction, _) in zip(signs, pulses, strict=True))
        rate = sum(sign * pulse_rate[None] for sign, (_, pulse_rate) in zip(signs, pulses, strict=True))
        return s, rate


def radial_inward_velocity(radius, endo_radius, endo_rate):
    """Inward radial velocity (mm/s) at ``radius`` (mm) given r_endo (mm) and dr_endo/dt (mm/s), broadcast.

    Wall and outside (r ≥ r_endo): −r_endo ṙ_endo / r (incompressible); cavity: −ṙ_endo r / r_endo.
    """
    radius = np.asarray(radius)
    ratio = np.where(radius >= endo_radius, endo_radius / np.maximum(radius, 1e-9), radius / endo_radius)
    return -endo_rate * ratio


def wall_mean_factor(endo_radius, epi_radius):
    """Mean of r_endo / r over the annulus area: 2 r_endo / (r_endo + r_epi) (the global/endo radial ratio)."""
    return 2.0 * endo_radius / (endo_radius + epi_radius)


@dataclasses.dataclass(frozen=True)
class SliceMotion:
    """The analytic motion of every slice of one subject. Arrays are (S,) unless stated.

    Methods take cycle fractions ``tau`` (N,) and return (S, N) arrays (mm, mm/s, rad, rad/s).
    """

    timing: CycleTiming
    rr_interval_ms: float
    levels: np.ndarray
    """0 at the base … 1 at the apex."""
    endo_radius_ed_mm: np.ndarray
    epi_radius_ed_mm: np.ndarray
    radial_excursion_mm: np.ndarray
    """ΔR: end-diastolic minus end-systolic endocardial radius."""
    radial_returns: np.ndarray
    """(S, 2) shares of ΔR returning in early filling and in the atrial kick."""
    rotation_es_rad: np.ndarray
    """Φ: end-systolic rotation, counter-clockwise as displayed."""
    rotation_returns: np.ndarray
    """(S, 2) shares of Φ undone in early filling and in the atrial kick."""
    longitudinal_excursion_mm: np.ndarray
    """D: end-systolic displacement towards the apex."""
    longitudinal_returns: np.ndarray
    """(S, 2) shares of D returning in early filling and in the atrial kick."""

    @property
    def rr_interval_s(self) -> float:
        return self.rr_interval_ms / 1000.0

    @property
    def wall_area_constant_mm2(self) -> np.ndarray:
        """(S,) r_epi² − r_endo², constant over the cycle (mm²)."""
        return self.epi_radius_ed_mm**2 - self.endo_radius_ed_mm**2

    # ---------------------------------------------------------------- radii
    def endo_radius_mm(self, tau) -> np.ndarray:
        s, _ = self.timing.shape(tau, self.radial_returns)
        return self.endo_radius_ed_mm[:, None] - self.radial_excursion_mm[:, None] * s

    def endo_radius_rate_mm_s(self, tau) -> np.ndarray:
        _, rate = self.timing.shape(tau, self.radial_returns)
        return -self.radial_excursion_mm[:, None] * rate / self.rr_interval_s

    def epi_radius_mm(self, tau) -> np.ndarray:
        return np.sqrt(self.endo_radius_mm(tau) ** 2 + self.wall_area_constant_mm2[:, None])

    # ------------------------------------------------------------- rotation
    def rotation_rad(self, tau) -> np.ndarray:
        s, _ = self.timing.shape(tau, self.rotation_returns)
        return self.rotation_es_rad[:, None] * s

    def rotation_rate_rad_s(self, tau) -> np.ndarray:
        _, rate = self.timing.shape(tau, self.rotation_returns)
        return self.rotation_es_rad[:, None] * rate / self.rr_interval_s

    # -------------------------------------------------------- through-plane
    def longitudinal_displacement_mm(self, tau) -> np.ndarray:
        s, _ = self.timing.shape(tau, self.longitudinal_returns)
        return self.longitudinal_excursion_mm[:, None] * s

    def longitudinal_velocity_mm_s(self, tau) -> np.ndarray:
        _, rate = self.timing.shape(tau, self.longitudinal_returns)
        return self.longitudinal_excursion_mm[:, None] * rate / self.rr_interval_s

    # ------------------------------------------------------- material points
    def material_position(self, rho, theta0, tau) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where material points are at times ``tau``.

        Args:
            rho, theta0: (S, P) end-diastolic radius (mm) and angle (rad, CCW as displayed)
                about the LV centre; ρ ≥ r_endo(0) is wall, ρ < r_endo(0) cavity.
            tau: (N,) cycle fractions.
        Returns:
            ``(r, theta, z)``, each (S, P, N): radius (mm), angle (rad), displacement towards
            the apex (mm).
        """
        rho = np.asarray(rho, np.float64)[..., None]
        endo_ed = self.endo_radius_ed_mm[:, None, None]
        endo = self.endo_radius_mm(tau)[:, None, :]
        wall = np.sqrt(np.maximum(endo**2 + rho**2 - endo_ed**2, 0.0))
        radius = np.where(rho >= endo_ed, wall, rho * endo / endo_ed)
        theta = np.asarray(theta0, np.float64)[..., None] + self.rotation_rad(tau)[:, None, :]
        z = np.broadcast_to(self.longitudinal_displacement_mm(tau)[:, None, :], radius.shape)
        return radius, theta, z

    def velocity_at(self, radius, tau) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eulerian velocity (mm/s) at ``radius`` (S, P, N) mm and times ``tau`` (N,).

        Returns ``(radial_inward, circumferential, longitudinal)``, each (S, P, N).
        """
        radius = np.asarray(radius, np.float64)
        inward = radial_inward_velocity(
            radius, self.endo_radius_mm(tau)[:, None, :], self.endo_radius_rate_mm_s(tau)[:, None, :]
        )
        circumferential = radius * self.rotation_rate_rad_s(tau)[:, None, :]
        longitudinal = np.broadcast_to(self.longitudinal_velocity_mm_s(tau)[:, None, :], radius.shape)
        return inward, circumferential, longitudinal

    def wall_mean_curves_mm_s(self, tau) -> np.ndarray:
        """(S, 3, N) continuous global curves: area means over the wall (radial, circumferential, longitudinal)."""
        endo, epi = self.endo_radius_mm(tau), self.epi_radius_mm(tau)
        radial = -self.endo_radius_rate_mm_s(tau) * wall_mean_factor(endo, epi)
        mean_radius = 2.0 / 3.0 * (epi**3 - endo**3) / (epi**2 - endo**2)
        circumferential = mean_radius * self.rotation_rate_rad_s(tau)
        return np.stack([radial, circumferential, self.longitudinal_velocity_mm_s(tau)], axis=1)


def end_diastolic_radii(subject: SubjectParams, levels) -> tuple[np.ndarray, np.ndarray]:
    """End-diastolic endocardial radius and wall thickness (mm) at long-axis ``levels`` (0 base … 1 apex, any shape).

    Both taper linearly from base to apex; levels below 0 (above the basal plane) extrapolate.
    """
    levels = np.asarray(levels, np.float64)
    endo_ed = subject.endo_radius_mm * (1.0 - (1.0 - subject.apex_radius_scale) * levels)
    wall_ed = subject.wall_thickness_mm * (1.0 - (1.0 - APEX_WALL_SCALE) * levels)
    return endo_ed, wall_ed


def slice_motion(subject: SubjectParams, levels) -> SliceMotion:
    """Calibrate the motion of slices at ``levels`` (S,) (0 base … 1 apex) from the subject's targets."""
    levels = np.asarray(levels, np.float64)
    timing = CycleTiming(
        subject.systole_fraction,
        subject.early_filling_half_width,
        subject.atrial_centre,
        subject.atrial_half_width,
    )
    rr_s = subject.rr_interval_ms / 1000.0
    systolic_peak_rate = peak_rate(timing.systolic_half_width, SYSTOLIC_PULSE_WEIGHTS) / rr_s  # 1/s
    filling_peak_rate = peak_rate(timing.early_filling_half_width, EARLY_FILLING_PULSE_WEIGHTS) / rr_s
    systolic_done = fraction_at_peak(SYSTOLIC_PULSE_WEIGHTS)
    filling_done = fraction_at_peak(EARLY_FILLING_PULSE_WEIGHTS)

    endo_ed, wall_ed = end_diastolic_radii(subject, levels)
    area_constant = (endo_ed + wall_ed) ** 2 - endo_ed**2
    drop_linear, drop_square = RADIAL_LEVEL_DROP
    radial_systolic = subject.radial_systolic_mm_s * (1.0 - drop_linear * levels - drop_square * levels**2)
    radial_early = radial_systolic * subject.radial_early_ratio

    def wall_factor(endo: np.ndarray) -> np.ndarray:
        return wall_mean_factor(endo, np.sqrt(endo**2 + area_constant))

    # Global radial peak = endocardial speed × wall-mean factor at the time of the peak; the factor
    # depends on the excursion itself, so solve by fixed-point iteration (converges in a few steps).
    radial_max_early = 1.0 - subject.radial_atrial_fraction - MIN_DIASTASIS_FRACTION
    excursion = radial_systolic / (systolic_peak_rate * 0.85)
    early = np.full_like(levels, 0.7)
    for _ in range(CALIBRATION_ITERATIONS):
        excursion = radial_systolic / (systolic_peak_rate * wall_factor(endo_ed - excursion * systolic_done))
        endo_at_filling_peak = endo_ed - excursion * (1.0 - early * filling_done)
        early = radial_early / (excursion * filling_peak_rate * wall_factor(endo_at_filling_peak))
        early = np.minimum(early, radial_max_early)

    longitudinal_base = subject.longitudinal_systolic_mm_s / systolic_peak_rate
    longitudinal_early = min(
        subject.longitudinal_early_ratio * systolic_peak_rate / filling_peak_rate,
        1.0 - subject.longitudinal_atrial_fraction - MIN_DIASTASIS_FRACTION,
    )

    def returns(early_fraction, atrial_fraction: float) -> np.ndarray:
        return np.stack(np.broadcast_arrays(early_fraction, np.full_like(levels, atrial_fraction)), axis=1)

    rotation_deg = subject.base_rotation_deg * (1.0 - levels) - subject.apex_rotation_deg * levels
    return SliceMotion(
        timing=timing,
        rr_interval_ms=subject.rr_interval_ms,
        levels=levels,
        endo_radius_ed_mm=endo_ed,
        epi_radius_ed_mm=endo_ed + wall_ed,
        radial_excursion_mm=excursion,
        radial_returns=returns(early, subject.radial_atrial_fraction),
        rotation_es_rad=np.deg2rad(rotation_deg),
        rotation_returns=returns(subject.rotation_early_fraction, subject.rotation_atrial_fraction),
        longitudinal_excursion_mm=longitudinal_base * (1.0 - (1.0 - subject.longitudinal_apex_fraction) * levels),
        longitudinal_returns=returns(longitudinal_early, subject.longitudinal_atrial_fraction),
    )
