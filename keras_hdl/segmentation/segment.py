"""Automatic LV myocardium masks of a whole series: locate the LV per slice, then find its borders per frame."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from keras_hdl.errors import InputError
from keras_hdl.segmentation.contours import Borders, find_borders, rasterize
from keras_hdl.segmentation.locate import locate_left_ventricle, smoothed_frames
from keras_hdl.series import Series, phase_to_velocity

METHOD = "keras-hdl polar shortest path"
METHOD_VERSION = "1"
"""Bumped whenever the method's masks change, so reports say which masks they were made with."""
LOW_CONFIDENCE = 0.4
"""Frames whose confidence is below this are named in reports as needing a look."""


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """Automatic myocardium masks of a series and how sure the method is of each frame.

    Attributes:
        masks: (T, S, H, W) bool LV myocardium (papillary muscles excluded).
        confidence: (T, S) in [0, 1] per frame and slice.
        borders: per segmented slice, its :class:`~keras_hdl.segmentation.contours.Borders`.
        slices: the 0-based slices segmented (the others' masks are empty).
        end_diastole, end_systole: (S,) frame of the largest / smallest cavity per slice
            (0 for slices not segmented).
    """

    masks: np.ndarray
    confidence: np.ndarray
    borders: dict[int, Borders]
    slices: tuple[int, ...]
    end_diastole: np.ndarray
    end_systole: np.ndarray

    @property
    def low_confidence_frames(self) -> list[tuple[int, int]]:
        """(slice, frame) pairs, 0-based, whose confidence is below :data:`LOW_CONFIDENCE`."""
        return [(s, int(t)) for s in self.slices for t in np.flatnonzero(self.confidence[:, s] < LOW_CONFIDENCE)]

    def least_confident_frame(self, slice_index: int) -> int:
        return int(np.argmin(self.confidence[:, slice_index]))

    def summary(self) -> dict:
        """JSON-ready description: method, version, slices, mean confidence, low-confidence frames."""
        chosen = list(self.slices)
        return {
            "method": METHOD,
            "version": METHOD_VERSION,
            "slices": chosen,
            "mean_confidence": round(float(self.confidence[:, chosen].mean()), 3),
            "low_confidence_threshold": LOW_CONFIDENCE,
            "low_confidence_frames": [{"slice": s, "frame": t} for s, t in self.low_confidence_frames],
        }

    def describe_low_confidence(self) -> str:
        """One line naming the frames a user should look at, or saying there are none."""
        frames = self.low_confidence_frames
        if not frames:
            return f"all frames confident (>= {LOW_CONFIDENCE:g})"
        shown = ", ".join(f"slice {s} frame {t}" for s, t in frames[:8])
        more = f" and {len(frames) - 8} more" if len(frames) > 8 else ""
        return f"{len(frames)} low-confidence frame(s) (< {LOW_CONFIDENCE:g}): {shown}{more}; check them in the overlay"


def check_slices(slices: Sequence[int] | None, num_slices: int) -> tuple[int, ...]:
    """The 0-based slices to segment (all when ``None``), refused when out of range or repeated."""
    if slices is None:
        return tuple(range(num_slices))
    chosen = tuple(int(s) for s in slices)
    bad = [s for s in chosen if not 0 <= s < num_slices]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise InputError(
            f"--slices {','.join(str(s) for s in chosen)}: expected distinct 0-based slice numbers in "
            f"0..{num_slices - 1} (the series has {num_slices} slice(s))"
        )
    return tuple(sorted(chosen))


def _mean_speed(series: Series, slice_index: int) -> np.ndarray | None:
    """(H, W) in-plane speed (cm/s) averaged over the cycle, ``None`` without phase images."""
    if series.phase is None:
        return None
    velocity = phase_to_velocity(series.phase[:, slice_index], series.venc)
    return np.hypot(velocity[:, 0], velocity[:, 1]).mean(axis=0)


def segment_series(series: Series, slices: Sequence[int] | None = None, progress: bool = False) -> Segmentation:
    """LV myocardium masks of every frame of the chosen slices of ``series`` (all slices by default).

    Raises :class:`InputError` naming the slice when one has no recognisable LV, before any
    output is written.
    """
    chosen = check_slices(slices, series.num_slices)
    frames, slice_count, rows, cols = series.magnitude.shape
    masks = np.zeros(series.magnitude.shape, bool)
    confidence = np.zeros((frames, slice_count))
    end_diastole = np.zeros(slice_count, int)
    end_systole = np.zeros(slice_count, int)
    borders = {}
    for s in tqdm(chosen, desc="segmenting", unit="slice", file=sys.stderr, disable=not progress):
        smoothed = smoothed_frames(series.magnitude[:, s], series.pixel_spacing)
        lv = locate_left_ventricle(smoothed, series.pixel_spacing, f"slice {s}", _mean_speed(series, s))
        found = find_borders(smoothed, lv, series.pixel_spacing)
        borders[s] = found
        masks[:, s] = rasterize(found, (rows, cols), series.pixel_spacing)
        confidence[:, s] = found.confidence
        cavity = np.pi * found.endo_mm.mean(axis=1) ** 2
        end_diastole[s], end_systole[s] = int(np.argmax(cavity)), int(np.argmin(cavity))
    return Segmentation(masks, confidence, borders, chosen, end_diastole, end_systole)
