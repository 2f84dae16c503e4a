"""Acquire a rendered scene: what the scanner adds to the phantom's anatomy and motion.

Acquisition (:class:`~keras_hdl.phantom.scan.Acquisition`: matrix, spacing, the
anatomy's in-plane rotation and position, venc, frames, SNR): the magnitude is blurred
(Gaussian, σ = 0.5 px), shaded by the coil's sensitivity when it has one, then gets
Rician noise |signal + σ (n₁ + i n₂)| and is rounded to scanner units. The phase of a
tissue pixel encodes its velocity (plus the eddy-current offset when the scan has one)
with venc plus Gaussian noise of std venc / (π · SNR_local) (phase noise of a pixel with
signal-to-noise ratio SNR_local), clipped at ±venc or, with aliasing, wrapped; pixels
darker than 10 % of blood (air, lungs) get the configured background noise instead.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from keras_hdl.phantom.config import PhantomConfig, SubjectParams
from keras_hdl.phantom.render import MM_S_PER_CM_S, ImageGrid, Scene
from keras_hdl.phantom.scan import EDDY_LENGTH_MM, Acquisition, ScanParams
from keras_hdl.series import PHASE_LEVELS, denormalize_phase, velocity_to_phase

BLUR_SIGMA_PX = 0.5


BACKGROUND_SIGNAL_FRACTION = 0.1
"""Pixels whose noise-free signal is below this fraction of blood get background phase noise."""


def coil_sensitivity(grid: ImageGrid, coil: tuple[float, float, float, float]) -> np.ndarray:
    """(H, W) float32 receive sensitivity floor + (1 − floor) exp(−d² / 2 width²) about the coil's point."""
    x, y = grid.centre_offset_mm
    centre_x, centre_y, width, floor = coil
    distance_squared = (x - centre_x) ** 2 + (y - centre_y) ** 2
    return (floor + (1.0 - floor) * np.exp(-0.5 * distance_squared / width**2)).astype(np.float32)


def eddy_offset_mm_s(grid: ImageGrid, coefficients) -> np.ndarray:
    """(3, H, W) float32 the static eddy-current velocity offset per direction (see ScanParams.eddy_mm_s), mm/s."""
    x, y = (axis / EDDY_LENGTH_MM for axis in grid.centre_offset_mm)
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y])  # (6, H, W)
    return np.tensordot(np.asarray(coefficients, np.float64), basis, axes=1).astype(np.float32)


def wrap_velocity(velocity: np.ndarray, venc_mm_s: np.ndarray) -> np.ndarray:
    """Velocity aliased into [−venc, venc): what the phase of a pixel with |v| > venc shows (mm/s, broadcast)."""
    return np.mod(velocity + venc_mm_s, 2.0 * venc_mm_s) - venc_mm_s


def acquire(
    scene: Scene,
    subject: SubjectParams,
    scan: ScanParams,
    config: PhantomConfig,
    acquisition: Acquisition,
    grid: ImageGrid,
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude (T, S, H, W) and raw phase (T, S, 3, H, W), both float32, from a noise-free scene.

    ``subject`` gives the signal scale; ``acquisition`` the SNR, venc and coil. With
    ``config.noise`` off: no Rician noise, no phase noise, air at zero velocity (raw 2048)
    plus the eddy-current offset when the scan has one.
    """
    rng = np.random.default_rng(scan.noise_seed)
    blurred = ndimage.gaussian_filter(scene.signal, sigma=(0, 0, BLUR_SIGMA_PX, BLUR_SIGMA_PX), mode="nearest")
    if acquisition.coil is not None:
        blurred *= coil_sensitivity(grid, acquisition.coil)
    noise_level = np.float32(subject.signal_scale / acquisition.snr)
    venc_mm_s = np.asarray(acquisition.venc_cm_s, np.float32).reshape(3, 1, 1) * MM_S_PER_CM_S
    velocity = scene.velocity_mm_s
    if scan.eddy_mm_s is not None:
        velocity = velocity + eddy_offset_mm_s(grid, scan.eddy_mm_s)
    if config.noise:
        real = blurred + noise_level * rng.standard_normal(blurred.shape, dtype=np.float32)
        imaginary = noise_level * rng.standard_normal(blurred.shape, dtype=np.float32)
        magnitude = np.hypot(real, imaginary)
        local_snr = np.maximum(blurred, BACKGROUND_SIGNAL_FRACTION * subject.signal_scale) / noise_level
        velocity_noise_std = venc_mm_s / (np.pi * local_snr[:, :, None])  # (T, S, 3, H, W) mm/s
        velocity = velocity + velocity_noise_std * rng.standard_normal(velocity.shape, dtype=np.float32)
    else:
        magnitude = blurred
    if config.aliasing:
        velocity = wrap_velocity(velocity, venc_mm_s)
    phase = velocity_to_phase(velocity / MM_S_PER_CM_S, acquisition.venc_cm_s)
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
