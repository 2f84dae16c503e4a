"""Helpers shared by the synthesis and export tests: tiny models folders and per-run shared folders."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

TINY_SPACING_MM = (2.5, 2.5)  # the spacing of a 64-pixel phantom (160 mm field of view)
TINY_CROP = 32
BACKGROUND = (0.05, 0.02)  # μ, σ of the phase background (normalised), not the preset's default
NORM = "batch"
EXPORT_VERSION = 3  # the TF Serving version the export tests write
BATCH_ATOL_RAW_PHASE = 0.05
"""Raw phase units (of 4096) by which a twin may differ when its networks ran in other batch sizes or
graphs. oneDNN picks convolution kernels, and so the order of float32 sums, by batch size and by CPU
(AVX2 or AVX-512): each layer's outputs move by a few ulps (1.2e-7 near 1), and the phase head's
[−1, 1] output is scaled by 2048. Measured: 0.0023 (1.1e-6 normalised) on an AMD EPYC with AVX2.
0.05 leaves a 20× margin and is 1/20 of the integer quantum the DICOM writer rounds to; a frame or
seed mixed up between samples moves values by hundreds of units."""


def shared_folder(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder built once per test run and shared by every xdist worker (built under a file lock)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            build(target)
    return target


def save_tiny_models(
    folder: Path,
    pixel_spacing_mm: tuple[float, float] = TINY_SPACING_MM,
    velocity_reference_cm_s: tuple[float, float, float] | None = None,
    frame_interval_reference_ms: float | None = None,
) -> Path:
    """An untrained ``tiny`` models folder (32-pixel crops) at ``pixel_spacing_mm``, with seeded weights
    (a phase network whose output is at ``velocity_reference_cm_s`` and ``frame_interval_reference_ms``;
    None: blind to them).

    Batch norm, like the ``cpu`` preset that ships: with instance norm, float16 weights alone move
    the untrained phase generator's output by up to ~0.04 (measured in Keras with float16-rounded
    weights), beyond the float16 TFLite tolerance; with batch norm by ~0.005.
    The untrained interpolator is exactly linear interpolation of the magnitudes (its image
    tail starts at zero); its mask tail and the phase generator give arbitrary but fixed output.
    """
    import keras

    from keras_hdl.config import build_from_config, load_preset
    from keras_hdl.model_store import ModelInfo, save_models

    preset = load_preset("tiny")
    keras.utils.set_random_seed(0)
    interpolator = build_from_config(preset.interpolation.model, norm=NORM)
    phase = build_from_config(
        preset.phase.model,
        norm=NORM,
        background_mean=BACKGROUND[0],
        background_std=BACKGROUND[1],
        velocity_reference_cm_s=velocity_reference_cm_s,
        frame_interval_reference_ms=frame_interval_reference_ms,
    )
    info = ModelInfo(preset="tiny", crop_size=TINY_CROP, pixel_spacing_mm=pixel_spacing_mm, frames=50)
    return save_models(folder, info, interpolator=interpolator, phase=phase)


def tiny_models(tmp_path_factory) -> Path:
    return shared_folder(tmp_path_factory, "tiny_models", save_tiny_models)
