"""What a phase generator sees of a cycle (numpy, TensorFlow-free: used by training, validation and synthesis).

Frame t's phase is synthesised from its n cyclic neighbours — 3 (the paper: t−1, t, t+1)
or 5 (t−2 … t+2) — and, for generators with ``cycle_position``, from t/T.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.errors import InputError

NEIGHBOURS = (3, 5)


def neighbour_offsets(neighbours: int) -> np.ndarray:
    """Frame offsets of the magnitude frames a phase generator sees: 3 → [−1, 0, 1], 5 → [−2, …, 2]."""
    if neighbours not in NEIGHBOURS:
        raise InputError(f"neighbours: the phase generator sees 3 or 5 neighbouring frames, got {neighbours!r}")
    return np.arange(neighbours) - neighbours // 2


def cycle_phase_inputs(magnitude: np.ndarray, neighbours: int = 3, cycle_position: bool = False) -> dict:
    """The phase generator's inputs for every frame of S cycles: magnitude (S, T, C, C) →
    ``{"magnitudes": (S·T, C, C, n)[, "position": (S·T, 1) t/T]}``, neighbours wrapping cyclically."""
    slices, frames, size = magnitude.shape[:3]
    t = np.arange(frames)
    stacked = np.stack([magnitude[:, (t + offset) % frames] for offset in neighbour_offsets(neighbours)], axis=-1)
    inputs = {"magnitudes": stacked.reshape(-1, size, size, neighbours).astype(np.float32)}
    if cycle_position:
        inputs["position"] = np.tile(t / frames, slices).astype(np.float32)[:, None]
    return inputs
