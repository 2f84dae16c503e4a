"""The phantom's myocardial wall over the cycle: where it is and how fast it moves, per pixel and frame.

v1: an incompressible annulus (:func:`annulus_wall`). v2 (``anatomy="v2"``): the wall's angular profile
(trabeculae, uneven thickness, elliptical shape, regional amplitudes), and the level the through-plane
motion brings into the slice (:func:`cut_levels`); :mod:`keras_hdl.phantom.render` draws both.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_hdl.phantom.config import NUM_AMPLITUDE_SECTORS, SubjectParams, WallShape
from keras_hdl.phantom.motion import SliceMotion, end_diastolic_radii, radial_inward_velocity

if TYPE_CHECKING:  # the pixel grid the wall is drawn on (render imports this module)
    from keras_hdl.phantom.render import ImageGrid


ANGULAR_TABLE_SIZE = 4096
"""Samples over one turn of the v2 wall's angular profiles (interpolated linearly: < 0.01 mm error)."""


@dataclasses.dataclass(frozen=True)
class Wall:
    """The LV wall of every frame and slice, (T, S, H, W) float32 unless stated.

    Attributes:
        endo, epi: radii (mm about the LV centre) of the drawn endocardium and epicardium at each pixel's angle.
        present: bool, where the wall exists at this level (``None``: everywhere, no basal cut).
        inward, circumferential: the analytic in-plane velocity (mm/s) inside the heart's LV outline.
        endo_mean, epi_mean: (S, T) circular-equivalent radii of the cut (the ground truth's radii), mm.
    """

    endo: np.ndarray
    epi: np.ndarray
    present: np.ndarray | None
    inward: np.ndarray
    circumferential: np.ndarray
    endo_mean: np.ndarray
    epi_mean: np.ndarray


def per_frame(curves: np.ndarray) -> np.ndarray:
    """(S, T) motion curve → (T, S, 1, 1) float32, ready to broadcast over pixels."""
    return curves.T[..., None, None].astype(np.float32)


def annulus_wall(motion: SliceMotion, tau: np.ndarray, radius: np.ndarray) -> Wall:
    """Today's wall: a circular annulus at the slice's fixed level."""
    endo, epi = motion.endo_radius_mm(tau), motion.epi_radius_mm(tau)
    endo_rate = per_frame(motion.endo_radius_rate_mm_s(tau))
    return Wall(
        endo=per_frame(endo),
        epi=per_frame(epi),
        present=None,
        inward=radial_inward_velocity(radius, per_frame(endo), endo_rate).astype(np.float32),
        circumferential=(radius * per_frame(motion.rotation_rate_rad_s(tau))).astype(np.float32),
        endo_mean=endo,
        epi_mean=epi,
    )


def angular_profiles(wall: WallShape) -> np.ndarray:
    """(4, N) the v2 wall's profiles over material angle ψ = 2π k / N (:data:`ANGULAR_TABLE_SIZE`).

    Rows: radius scale 1 + ε cos 2(ψ − ψ_e); wall-thickness scale 1 + α cos(ψ − ψ_w);
    trabecular depth (mm, raised-cosine bumps); in-plane excursion scale m(ψ).
    """
    psi = np.arange(ANGULAR_TABLE_SIZE) * (2.0 * np.pi / ANGULAR_TABLE_SIZE)

    def wrapped(angle_deg: float) -> np.ndarray:
        return np.angle(np.exp(1j * (psi - np.deg2rad(angle_deg))))

    trabeculae = np.zeros_like(psi)
    for angle_deg, depth_mm, half_width_deg in wall.trabeculae:
        u = np.clip(wrapped(angle_deg) / np.deg2rad(half_width_deg), -1.0, 1.0)
        trabeculae += depth_mm * 0.5 * (1.0 + np.cos(np.pi * u))
    sector_centres = (np.arange(NUM_AMPLITUDE_SECTORS) + 0.5) * (2.0 * np.pi / NUM_AMPLITUDE_SECTORS)
    amplitude = np.interp(psi, sector_centres, wall.sector_amplitudes, period=2.0 * np.pi)
    centre_deg, half_width_deg, depth = wall.hypokinesis
    amplitude *= 1.0 - depth * np.exp(-0.5 * (wrapped(centre_deg) / np.deg2rad(half_width_deg)) ** 2)
    return np.stack(
        [
            1.0 + wall.ellipticity * np.cos(2.0 * (psi - np.deg2rad(wall.ellipse_angle_deg))),
            1.0 + wall.thickness_variation * np.cos(psi - np.deg2rad(wall.thickness_angle_deg)),
            trabeculae,
            amplitude,
        ]
    )


def angular_lookup(table: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(K, ...) float32: ``table`` (K, N) sampled over one turn, linearly interpolated at ``angle`` (...) rad."""
    position = np.mod(angle, 2.0 * np.pi) * (table.shape[1] / (2.0 * np.pi))
    below = np.floor(position).astype(np.int32)
    fraction = (position - below).astype(np.float32)
    below %= table.shape[1]
    above = (below + 1) % table.shape[1]
    table = table.astype(np.float32)
    return table[:, below] + fraction * (table[:, above] - table[:, below])


def cut_levels(subject: SubjectParams, motion: SliceMotion, tau: np.ndarray) -> np.ndarray:
    """(S, T) the long-axis level a(t) = level − z(t) / L whose material the fixed slice cuts at each frame."""
    return motion.levels[:, None] - motion.longitudinal_displacement_mm(tau) / subject.base_to_apex_mm


def v2_wall(subject: SubjectParams, motion: SliceMotion, tau: np.ndarray, grid: ImageGrid, radius: np.ndarray) -> Wall:
    """The v2 wall (module docstring): cut at level a(t), elliptical, uneven, trabeculated, regional."""
    wall = subject.wall
    levels = cut_levels(subject, motion, tau)  # (S, T)
    endo_ed, wall_ed = end_diastolic_radii(subject, levels)
    contraction = motion.endo_radius_ed_mm[:, None] - motion.endo_radius_mm(tau)  # ΔR s(t), (S, T)
    endo_rate = motion.endo_radius_rate_mm_s(tau)
    rotation = motion.rotation_rad(tau)
    x, up = grid.anatomy_xy
    material_angle = np.arctan2(up, x)[None, None] - per_frame(rotation)  # ψ, (T, S, H, W)
    scale, thickness, trabeculae, amplitude = angular_lookup(angular_profiles(wall), material_angle)
    centre_radius = per_frame(endo_ed) - amplitude * per_frame(contraction)  # r_c(ψ, t)
    area = (per_frame(endo_ed) + per_frame(wall_ed) * thickness) ** 2 - per_frame(endo_ed) ** 2
    present = None
    if wall.base_extent_mm is not None:
        extent = np.float32(wall.base_extent_mm) * 0.5 * (1.0 - np.cos(material_angle - np.deg2rad(wall.base_gap_deg)))
        present = per_frame(levels * subject.base_to_apex_mm) + extent >= 0
    endo_mean = endo_ed - contraction
    return Wall(
        endo=scale * centre_radius * (1.0 - trabeculae / per_frame(endo_ed)),
        epi=scale * np.sqrt(centre_radius**2 + area),
        present=present,
        inward=radial_inward_velocity(radius / scale, centre_radius, amplitude * per_frame(endo_rate)).astype(
            np.float32
        ),
        circumferential=(radius * per_frame(motion.rotation_rate_rad_s(tau))).astype(np.float32),
        endo_mean=endo_mean,
        epi_mean=np.sqrt(endo_mean**2 + (endo_ed + wall_ed) ** 2 - endo_ed**2),
    )
