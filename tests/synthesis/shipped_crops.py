"""Kept LV crops of a phantom slice on the shipped models' grid: what the precision and back-end tests synthesise."""

from __future__ import annotations

import numpy as np

K, FRAMES = 6, 21
"""Frames dropped between kept ones, and frames per cycle, of :func:`shipped_kept_crops`."""


def shipped_kept_crops() -> tuple[np.ndarray, np.ndarray]:
    """Kept LV crops (1, 3, 96, 96) of a 128-px phantom slice at the shipped models' spacing, and their masks."""
    from keras_hdl.model_store import read_model_info
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig
    from keras_hdl.series import normalize_magnitude
    from keras_hdl.synthesis.field_of_view import LVWindow
    from keras_hdl.synthesis.networks import resolve_models_folder
    from keras_hdl.synthesis.pipeline import kept_frames

    info = read_model_info(resolve_models_folder())
    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=FRAMES, size=128, seed=2), 0)
    kept = kept_frames(FRAMES, K)
    masks = series.masks[kept, 0]
    window = LVWindow.around(masks, series.pixel_spacing, info.pixel_spacing_mm, info.crop_size)
    magnitudes = window.crop(normalize_magnitude(series.magnitude[kept])[:, 0], fill=-1.0)
    crop_masks = (window.crop(masks.astype(np.float32), fill=0.0) >= 0.5).astype(np.float32)
    return magnitudes[None], crop_masks[None]


def assert_phase_within(other, reference, tolerance: dict) -> np.ndarray:
    """Check ``other``'s twin crops against ``reference``'s (CropTwin) within ``tolerance`` (foreground flips,
    myocardial phase, myocardial means); returns the (S, T, C, C, 3) background both agree is background."""
    foreground_reference, foreground_other = reference.magnitude > -0.95, other.magnitude > -0.95
    assert (foreground_reference != foreground_other).mean() <= tolerance["foreground_flip_fraction"]
    myocardium = reference.mask > 0.5  # (S, T, C, C): what the assessment reads
    difference = np.abs(other.phase - reference.phase)
    assert myocardium.sum() > 1000
    assert difference[myocardium].max() <= tolerance["myocardium_phase_max_abs"]

    def myocardial_means(phase):  # (S, T, 3): each frame's mean phase over the myocardium
        return (phase * myocardium[..., None]).sum((2, 3)) / myocardium.sum((2, 3))[..., None]

    mean_difference = np.abs(myocardial_means(other.phase) - myocardial_means(reference.phase)).max()
    assert mean_difference <= tolerance["myocardial_mean_phase_max_abs"]
    return np.broadcast_to((~foreground_reference & ~foreground_other)[..., None], reference.phase.shape)
