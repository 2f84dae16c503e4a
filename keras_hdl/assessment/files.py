"""Assess a series on disk: read it, attach its masks (or segment it), assess, and write the report.

What `keras-hdl assess` does, as one function (:func:`assess_to_folder`) that tests and other tools call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from keras_hdl.assessment.report import format_report, write_report
from keras_hdl.assessment.velocity import Assessment, AssessmentOptions, assess_slices
from keras_hdl.memory import require_memory
from keras_hdl.readers import read_slices, streams_slices
from keras_hdl.segmentation import Segmentation
from keras_hdl.segmentation.output import (
    OVERLAY_NAME,
    automatic_masks_line,
    masks_name,
    report_entries,
    with_masks,
    write_automatic,
)
from keras_hdl.series import Series

OUTPUT_SUFFIX = "_assessment"
ASSESS_MEMORY_FACTOR = 2.2
"""Peak resident memory of ``assess`` of a series read whole (classic DICOM) over its in-memory size, with a margin:
1.61 GB measured for a 20-slice, 50-frame 256² series (1.11 GB in memory) read whole from its .npz."""
ASSESS_STREAMED_FACTOR = 0.2
ASSESS_STREAMED_BASE_BYTES = 0.25e9
"""Peak resident memory of ``assess`` of an Enhanced MR file or a .npz, read slice by slice (whole: the masks): this
base plus the factor times the series' in-memory size, with a margin: 0.35 GB measured for a 20-slice, 50-frame
256² series.dcm (1.11 GB in memory), 0.89 GB for a 512² one (4.46 GB)."""


def default_output_dir(input_path: str | Path) -> Path:
    """The folder beside the input: ``<parent>/<input name without suffix>_assessment``."""
    input_path = Path(input_path)
    return input_path.with_name(input_path.stem + OUTPUT_SUFFIX)


def assess_path(
    input_path: str | Path,
    masks_path: str | Path | None = None,
    reference_path: str | Path | None = None,
    options: AssessmentOptions | None = None,
    progress: bool = False,
) -> tuple[Assessment, Assessment | None, Series, Segmentation | None]:
    """Assess the series at ``input_path`` and, when given, the reference (which falls back to the input's masks).

    Returns (assessment, reference assessment or ``None``, the input series with its masks,
    the automatic segmentation or ``None`` when the input had masks). An Enhanced MR file or a .npz is
    read slice by slice (:func:`~keras_hdl.readers.read_slices`): its series then holds the masks and a
    zero magnitude, unless it was segmented automatically (which needs its magnitude).
    """
    for path in (input_path, reference_path):
        if path is not None:
            if streams_slices(path):
                require_memory(path, ASSESS_STREAMED_FACTOR, "assess", ASSESS_STREAMED_BASE_BYTES)
            else:
                require_memory(path, ASSESS_MEMORY_FACTOR, "assess")
    slices = read_slices(input_path)
    unmasked = slices.header if masks_path is not None or slices.header.masks is not None else slices.with_magnitude()
    series, segmentation = with_masks(unmasked, masks_path, progress, input_path)
    assessment = assess_slices(dataclasses.replace(slices, header=series), options)
    reference = None
    if reference_path is not None:
        reference = assess_slices(read_slices(reference_path).with_masks(reference_path, series.masks), options)
    return assessment, reference, series, segmentation


def assess_to_folder(
    input_path: str | Path,
    masks_path: str | Path | None = None,
    reference_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    json_path: str | Path | None = None,
    options: AssessmentOptions | None = None,
    report: Callable[[str], object] = print,
) -> dict[str, Path]:
    """Assess INPUT (and the reference), ``report`` the table, write the outputs; returns the written paths.

    ``out_dir`` defaults to :func:`default_output_dir`. An input without masks is segmented
    automatically: ``report`` says so, report.json records it, and the masks and the QC overlay
    are written beside the report.
    """
    assessment, reference, series, segmentation = assess_path(
        input_path, masks_path, reference_path, options, progress=True
    )
    if segmentation is not None:
        report(automatic_masks_line(input_path, segmentation))
    report(format_report(assessment, reference))
    out_dir = out_dir if out_dir is not None else default_output_dir(input_path)
    automatic = None
    if segmentation is not None:
        automatic = report_entries(segmentation, masks_name(input_path), OVERLAY_NAME)
    paths = write_report(assessment, out_dir, reference, json_path, automatic)
    if segmentation is not None:
        paths.update(write_automatic(input_path, series, segmentation, out_dir))
    report(f"\nWrote {', '.join(str(p) for p in paths.values())}")
    return paths
