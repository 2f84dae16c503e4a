"""Write automatic masks where the tools read them: a cine DICOM SEG on a DICOM series, a ``.npz`` otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.io_utils import write_npz
from keras_hdl.readers import read_masks, read_series
from keras_hdl.segmentation.segment import METHOD, METHOD_VERSION, Segmentation, segment_series
from keras_hdl.series import Series

SEG_NAME = "seg.dcm"
NPZ_NAME = "masks.npz"
OVERLAY_NAME = "segmentation.png"
INPUT_PREFIX = "input_"
"""A twin's folder holds its input's automatic masks and overlay under these names with this prefix."""
INPUT_FILES = tuple(INPUT_PREFIX + name for name in (SEG_NAME, NPZ_NAME, OVERLAY_NAME))


def is_npz(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".npz"


def masks_name(input_path: str | Path) -> str:
    """The file name automatic masks of ``input_path`` get: ``seg.dcm`` for DICOM, ``masks.npz`` for a ``.npz``."""
    return NPZ_NAME if is_npz(input_path) else SEG_NAME


def check_masks_target(input_path: str | Path, out_path: str | Path) -> None:
    """Refuse to write a DICOM SEG for a ``.npz`` series (a SEG references DICOM images)."""
    out_path = Path(out_path)
    if is_npz(input_path) and not is_npz(out_path):
        raise InputError(
            f"{out_path}: a DICOM SEG references DICOM images, and {input_path} is a .npz series; write the masks "
            f"as a .npz instead (e.g. --out {out_path.with_suffix('.npz').name}), which --masks reads too"
        )


def write_masks(masks: np.ndarray, input_path: str | Path, out_path: str | Path) -> Path:
    """Write ``masks`` (T, S, H, W) bool of the series at ``input_path`` to ``out_path`` (atomic); returns it.

    ``.npz`` → an array ``masks`` (what ``--masks`` reads); anything else → a cine DICOM SEG
    referencing the DICOM series at ``input_path`` (which must be DICOM: a SEG references images).
    """
    out_path = Path(out_path)
    check_masks_target(input_path, out_path)
    if is_npz(out_path):
        return write_npz(out_path, {"masks": np.asarray(masks, bool)})
    from keras_hdl.dicom import read_dicom_frames, write_cine_seg

    written, source, _ = read_dicom_frames(input_path, pixels=False)  # geometry and references only
    return write_cine_seg(masks, written, source, out_path, algorithm=(METHOD, METHOD_VERSION))


def write_automatic(
    input_path: str | Path, series: Series, segmentation: Segmentation, out_dir: str | Path, prefix: str = ""
) -> dict[str, Path]:
    """Write the automatic masks (``seg.dcm``, or ``masks.npz`` for a ``.npz`` input) and the QC overlay
    (``segmentation.png``) of the series read from ``input_path`` into ``out_dir``, names prefixed with
    ``prefix``; returns the paths by file name."""
    from keras_hdl.segmentation.overlay import write_overlay

    out_dir = Path(out_dir)
    masks_file, overlay_file = prefix + masks_name(input_path), prefix + OVERLAY_NAME
    paths = {masks_file: out_dir / masks_file, overlay_file: out_dir / overlay_file}
    write_masks(segmentation.masks, input_path, paths[masks_file])
    write_overlay(series, segmentation, paths[overlay_file])
    return paths


def report_entries(segmentation: Segmentation, masks_file: str, overlay_file: str) -> dict:
    """The ``report.json`` entries of automatic masks: ``"masks": "automatic"`` and the method's details."""
    return {
        "masks": "automatic",
        "segmentation": {**segmentation.summary(), "file": masks_file, "overlay": overlay_file},
    }


def automatic_masks_line(input_path: str | Path, segmentation: Segmentation) -> str:
    """The one line that says a series' masks were made automatically, and which frames to check."""
    return (
        f"{input_path} has no myocardium masks: segmented automatically ({METHOD}, version {METHOD_VERSION}; "
        f"{segmentation.describe_low_confidence()})"
    )


def segment_path(
    input_path: str | Path,
    out_path: str | Path,
    preview_path: str | Path | None = None,
    slices: tuple[int, ...] | None = None,
    progress: bool = True,
    report: Callable[[str], object] | None = None,
) -> Segmentation:
    """Segment the series at ``input_path``; write the masks to ``out_path`` (and the overlay); return the segmentation.

    Everything is computed before anything is written, so a series without a recognisable
    LV leaves no file behind.
    """
    from keras_hdl.segmentation.overlay import write_overlay

    check_masks_target(input_path, out_path)
    series = read_series(input_path)
    segmentation = segment_series(series, slices, progress=progress)
    write_masks(segmentation.masks, input_path, out_path)
    if preview_path is not None:
        write_overlay(series, segmentation, preview_path)
    if report is not None:
        frames = segmentation.masks.shape[0]
        report(
            f"Segmented {len(segmentation.slices)} slice(s) x {frames} frames ({METHOD}, version {METHOD_VERSION}); "
            f"mean confidence {segmentation.summary()['mean_confidence']:.2f}; {segmentation.describe_low_confidence()}"
        )
        report(f"Wrote {out_path}" + (f" and {preview_path}" if preview_path else ""))
    return segmentation


def with_masks(
    series: Series, masks_path: str | Path | None = None, progress: bool = False, where: str | Path = "INPUT"
) -> tuple[Series, Segmentation | None]:
    """``series`` with masks (from ``masks_path``, or its own); without any, segmented automatically.

    Returns the series (with masks) and the automatic segmentation, ``None`` when masks were
    found. ``where`` names the series in the error raised when automatic segmentation fails.
    """
    if masks_path is not None:
        return series.replace(masks=read_masks(masks_path, series)), None
    if series.masks is not None:
        return series, None
    try:
        segmentation = segment_series(series, progress=progress)
    except InputError as err:
        raise InputError(
            f"{where}: no myocardium masks found, and automatic segmentation failed: {err}. Pass --masks FILE "
            "(a DICOM SEG, a NIfTI, or a .npz with a boolean array `masks` of shape (T, S, H, W) = "
            f"{series.magnitude.shape}), or put a seg.dcm that references the series beside it"
        ) from err
    return series.replace(masks=segmentation.masks), segmentation
