"""``keras-hdl assess``: myocardial velocity assessment of a series (a thin parser over the library).

The work is done by :func:`assess_path` (read, attach masks, assess) and
:func:`keras_hdl.assessment.write_report`; this module only parses options.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from keras_hdl.assessment import (
    Assessment,
    AssessmentOptions,
    assess_series,
    format_report,
    write_report,
)
from keras_hdl.assessment.velocity import DEFAULT_REFERENCE_ANGLE_DEG
from keras_hdl.errors import InputError
from keras_hdl.memory import require_memory
from keras_hdl.readers import read_masks, read_series
from keras_hdl.segmentation import METHOD, METHOD_VERSION, Segmentation, segment_series
from keras_hdl.segmentation.output import OVERLAY_NAME, masks_name, report_entries, write_automatic
from keras_hdl.series import Series

OUTPUT_SUFFIX = "_assessment"
ASSESS_MEMORY_FACTOR = 2.2
"""Peak resident memory of ``assess`` over the series' in-memory size, with a margin: 1.97 GB measured for a
20-slice, 50-frame 256² series.dcm (1.11 GB in memory), 1.61 GB for its .npz (keras_hdl.benchmarks.memory)."""


def default_output_dir(input_path: str | Path) -> Path:
    """The folder beside the input: ``<parent>/<input name without suffix>_assessment``."""
    input_path = Path(input_path)
    return input_path.with_name(input_path.stem + OUTPUT_SUFFIX)


def read_with_masks(
    path: str | Path, masks_path: str | Path | None = None, fallback_masks: np.ndarray | None = None
) -> Series:
    """Read a series and make sure it carries myocardium masks (from ``masks_path``, itself, or ``fallback_masks``)."""
    series = read_series(path)
    if masks_path is not None:
        series = series.replace(masks=read_masks(masks_path, series))
    elif series.masks is None and fallback_masks is not None:
        if fallback_masks.shape != series.magnitude.shape:
            raise InputError(
                f"{path}: has no masks of its own and the input's masks {fallback_masks.shape} do not fit its "
                f"images {series.magnitude.shape}; give it masks"
            )
        series = series.replace(masks=fallback_masks)
    if series.masks is None:
        raise InputError(
            f"{path}: no myocardium masks found; pass --masks FILE (a DICOM SEG, a NIfTI, or a .npz with a boolean "
            f"array `masks` of shape (T, S, H, W) = {series.magnitude.shape}), or put a seg.dcm that references "
            "the series beside it"
        )
    return series


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


def automatic_masks_line(input_path: str | Path, segmentation: Segmentation) -> str:
    """The one line that says a series' masks were made automatically, and which frames to check."""
    return (
        f"{input_path} has no myocardium masks: segmented automatically ({METHOD}, version {METHOD_VERSION}; "
        f"{segmentation.describe_low_confidence()})"
    )


def assess_path(
    input_path: str | Path,
    masks_path: str | Path | None = None,
    reference_path: str | Path | None = None,
    options: AssessmentOptions | None = None,
    progress: bool = False,
) -> tuple[Assessment, Assessment | None, Series, Segmentation | None]:
    """Assess the series at ``input_path`` and, when given, the reference (which falls back to the input's masks).

    Returns (assessment, reference assessment or ``None``, the input series with its masks,
    the automatic segmentation or ``None`` when the input had masks).
    """
    for path in (input_path, reference_path):
        if path is not None:
            require_memory(path, ASSESS_MEMORY_FACTOR, "assess")
    series, segmentation = with_masks(read_series(input_path), masks_path, progress, input_path)
    assessment = assess_series(series, options)
    reference = None
    if reference_path is not None:
        reference = assess_series(read_with_masks(reference_path, fallback_masks=series.masks), options)
    return assessment, reference, series, segmentation


@click.command("assess")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--masks",
    "masks_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Myocardium masks: a DICOM SEG, a NIfTI, or a .npz with a boolean array `masks` (T, S, H, W). "
    "Default: the masks the input carries (a .npz's own, or the seg.dcm beside a DICOM input).",
)
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(exists=True, path_type=Path),
    help="A reference series (e.g. the real scan of a twin): its curves are drawn dashed and Pearson "
    "correlations reported. Read with the same flips/swap as INPUT; uses its own masks, else INPUT's.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Output folder. Default: beside INPUT, named <INPUT name without suffix>{OUTPUT_SUFFIX}.",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write report.json here."
)
@click.option("--flip-x", is_flag=True, help="Negate the x (column-direction) velocity.")
@click.option("--flip-y", is_flag=True, help="Negate the y (row-direction) velocity.")
@click.option("--flip-z", is_flag=True, help="Negate the z (through-plane) velocity.")
@click.option("--swap-xy", is_flag=True, help="Swap the stored x and y velocities (applied before the flips).")
@click.option(
    "--reference-angle",
    type=float,
    default=DEFAULT_REFERENCE_ANGLE_DEG,
    show_default=True,
    help="Start of sector 1: degrees counter-clockwise as displayed from the +x axis (the anterior RV "
    "insertion point; 120 in a standard short-axis view).",
)
@click.option(
    "--background-correction",
    is_flag=True,
    help="Subtract the static background phase (eddy currents): a quadratic surface fitted per slice and "
    "direction to the static tissue outside the heart.",
)
def command(
    input_path: Path,
    masks_path: Path | None,
    reference_path: Path | None,
    out_dir: Path | None,
    json_path: Path | None,
    flip_x: bool,
    flip_y: bool,
    flip_z: bool,
    swap_xy: bool,
    reference_angle: float,
    background_correction: bool,
) -> None:
    """Assess myocardial velocities of INPUT (Enhanced MR series.dcm, classic DICOM folder or .npz).

    Prints the global radial, circumferential and longitudinal markers per slice and for the
    mean over slices (velocities in mm/s; times in frames normalised to 50 and ms), and writes
    velocities.csv, markers.csv, report.json and curves.png. Radial is positive towards the
    centre, circumferential counter-clockwise as displayed, longitudinal along the slice normal.

    Without masks (no --masks, none in a .npz, no seg.dcm beside a DICOM INPUT) the LV
    myocardium is segmented automatically (as `keras-hdl segment` does): the command says so,
    report.json records "masks": "automatic" with the method's version and the frames of low
    confidence, and the masks (seg.dcm, or masks.npz for a .npz INPUT) and a QC overlay
    (segmentation.png) are written beside the report.
    """
    options = AssessmentOptions(
        flip_x=flip_x,
        flip_y=flip_y,
        flip_z=flip_z,
        swap_xy=swap_xy,
        reference_angle_deg=reference_angle,
        background_correction=background_correction,
    )
    assessment, reference, series, segmentation = assess_path(
        input_path, masks_path, reference_path, options, progress=True
    )
    if segmentation is not None:
        click.echo(automatic_masks_line(input_path, segmentation))
    click.echo(format_report(assessment, reference))
    out_dir = out_dir if out_dir is not None else default_output_dir(input_path)
    automatic = None
    if segmentation is not None:
        automatic = report_entries(segmentation, masks_name(input_path), OVERLAY_NAME)
    paths = write_report(assessment, out_dir, reference, json_path, automatic)
    if segmentation is not None:
        paths.update(write_automatic(input_path, series, segmentation, out_dir))
    click.echo(f"\nWrote {', '.join(str(p) for p in paths.values())}")
