"""The held-out test scans of a phantom dataset, and their LV crops as the networks see them.

Evaluation uses the **test** split of a phantom dataset only (subjects never seen in
training or validation; see :mod:`keras_hdl.phantom.dataset`), with its analytic ground
truth. For a K, :func:`crops_at` crops every test slice exactly as
:func:`keras_hdl.synthesis.pipeline.synthesize_twin` does for a low-frame-rate series:
an :class:`~keras_hdl.synthesis.field_of_view.LVWindow` centred on the kept frames'
myocardium, at the networks' pixel spacing, and magnitudes normalised by the kept frames'
robust maximum. Every method is scored on these crops. Scans of different frame counts
(phantom v2's varied acquisitions) are cropped in groups of one frame count each.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import kept_frames
from keras_hdl.metrics import FOREGROUND_THRESHOLD, LV_PADDING_PX, MASK_THRESHOLD
from keras_hdl.phantom.dataset import MANIFEST_FILE, load_manifest
from keras_hdl.phantom.truth import GroundTruth, load_truth
from keras_hdl.readers import read_series
from keras_hdl.series import Series, magnitude_scale, normalize_phase
from keras_hdl.synthesis.field_of_view import LVWindow

TEST_SPLIT = "test"


@dataclasses.dataclass(frozen=True)
class TestScan:
    """One test scan: its id, the series (T, S, H, W) with phase and masks, its analytic truth (or None), and
    how it was acquired (the manifest's ``acquisition`` entry, or None for a dataset of one fixed acquisition)."""

    scan_id: str
    subject: str
    series: Series
    truth: GroundTruth | None
    acquisition: dict | None = None


@dataclasses.dataclass(frozen=True)
class TestSet:
    """The test scans of a dataset and what the report says about them."""

    folder: Path
    scans: list[TestScan]
    description: str

    @property
    def frame_counts(self) -> list[int]:
        """The scans' distinct frames per cycle, ascending."""
        return sorted({scan.series.num_frames for scan in self.scans})

    @property
    def num_slices(self) -> int:
        return sum(scan.series.num_slices for scan in self.scans)

    @property
    def pixel_spacing_mm(self) -> tuple[float, float]:
        row, col = np.median([scan.series.pixel_spacing for scan in self.scans], axis=0)
        return float(row), float(col)


def load_test_set(folder: Path) -> TestSet:
    """The test split of the phantom dataset in ``folder``; an InputError when there is none."""
    folder = Path(folder)
    if not (folder / MANIFEST_FILE).is_file():
        raise InputError(
            f"--data {folder}: not a phantom dataset (no {MANIFEST_FILE}); evaluation needs held-out subjects with "
            "known truth: make one with `keras-hdl phantom OUT_DIR`, or leave --data out for the built-in phantom"
        )
    manifest = load_manifest(folder)
    entries = [scan for scan in manifest["scans"] if scan["split"] == TEST_SPLIT]
    if not entries:
        raise InputError(
            f"--data {folder}: its manifest has no test split; generate the phantom with at least 3 subjects "
            "(`keras-hdl phantom --subjects N`)"
        )
    scans = []
    for entry in entries:
        series = read_series(folder / entry["files"][0])
        if series.phase is None or series.masks is None:
            raise InputError(f"{folder / entry['scan_id']}: evaluation needs magnitude, phase and myocardium masks")
        truth_path = folder / entry["truth"] if entry.get("truth") else None
        truth = load_truth(truth_path) if truth_path is not None and truth_path.is_file() else None
        scans.append(TestScan(entry["scan_id"], entry["subject"], series, truth, entry.get("acquisition")))
    frames = sorted({scan.series.num_frames for scan in scans})
    subjects = sorted({scan.subject for scan in scans})
    description = (
        f"{folder}: test split, {len(subjects)} subject(s) ({', '.join(subjects)}), {len(scans)} scan(s), "
        f"{sum(s.series.num_slices for s in scans)} slice(s), {'/'.join(map(str, frames))} frames per cycle"
    )
    return TestSet(folder, scans, description)


@dataclasses.dataclass(frozen=True)
class Crops:
    """Every test slice at one K on the networks' crops (the truth), slices of all scans stacked.

    magnitude (S, T, C, C) normalised to [−1, 1] with the kept frames' scale; mask (S, T, C, C)
    float32 in {0, 1}; phase (S, T, C, C, 3) normalised x, y, z phase in [−1, 1]; venc (S, 3) cm/s and
    frame_interval_ms (S,) RR / T (NaN: RR unknown) of each slice's scan; kept (N,) the kept frame indices;
    k the frames dropped between kept ones.
    """

    magnitude: np.ndarray
    mask: np.ndarray
    phase: np.ndarray
    venc: np.ndarray
    frame_interval_ms: np.ndarray
    kept: np.ndarray
    k: int

    @property
    def num_frames(self) -> int:
        return self.magnitude.shape[1]


def crops_at(test_set: TestSet, k: int, crop_size: int, model_spacing_mm: tuple[float, float]) -> list[Crops]:
    """The test slices' crops for a K-dropped acquisition (module docstring), one :class:`Crops` per frame count.

    Groups come in the order of their first scan (the first group starts with the first scan's slices).
    """
    counts = list(dict.fromkeys(scan.series.num_frames for scan in test_set.scans))
    return [
        _crops_of([scan for scan in test_set.scans if scan.series.num_frames == frames], k, crop_size, model_spacing_mm)
        for frames in counts
    ]


def _crops_of(scans: list[TestScan], k: int, crop_size: int, model_spacing_mm: tuple[float, float]) -> Crops:
    kept = kept_frames(scans[0].series.num_frames, k)
    magnitudes, masks, phases, vencs, intervals = [], [], [], [], []
    for scan in scans:
        series = scan.series
        scale = magnitude_scale(series.magnitude[kept])
        normalized = (np.clip(series.magnitude / scale, 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)
        phase = normalize_phase(series.phase)  # (T, S, 3, H, W)
        for s in range(series.num_slices):
            window = LVWindow.around(series.masks[kept, s], series.pixel_spacing, model_spacing_mm, crop_size)
            magnitudes.append(window.crop(normalized[:, s], fill=-1.0))
            masks.append(window.crop(series.masks[:, s].astype(np.float32), fill=0.0) >= MASK_THRESHOLD)
            phases.append(np.moveaxis(window.crop(phase[:, s], fill=0.0), 1, -1))
            vencs.append(series.venc)
            intervals.append(np.nan if series.frame_interval_ms is None else series.frame_interval_ms)
    return Crops(
        magnitude=np.stack(magnitudes).astype(np.float32),
        mask=np.stack(masks).astype(np.float32),
        phase=np.stack(phases).astype(np.float32),
        venc=np.asarray(vencs, np.float32),
        frame_interval_ms=np.asarray(intervals, np.float64),
        kept=kept,
        k=k,
    )


def crop_region_text(crop_size: int, spacing: tuple[float, float]) -> str:
    """What the report says of the region every method is scored on."""
    return (
        f"every method is scored on the {crop_size}×{crop_size}-pixel LV crop the networks see "
        f"({spacing[0]:.3g}×{spacing[1]:.3g} mm pixels), centred on the centroid of the kept frames' myocardium "
        "masks of each slice and normalised by the kept frames' robust maximum (as `keras-hdl synthesize` does); "
        f"ω1 = the real myocardium dilated by {LV_PADDING_PX} px, ω2 = real normalised magnitude > "
        f"{FOREGROUND_THRESHOLD}; interpolation metrics over the dropped frames only"
    )
