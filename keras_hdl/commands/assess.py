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


def assess_path(
    input_path: str | Path,
    masks_path: str | Path | None = None,
    reference_path: str | Path | None = None,
    options: AssessmentOptions | None = None,
) -> tuple[Assessment, Assessment | None]:
    """Assess the series at ``input_path`` and, when given, the reference (which falls back to the input's masks)."""
    for path in (input_path, reference_path):
        if path is not None:
            require_memory(path, ASSESS_MEMORY_FACTOR, "assess")
    series = read_with_masks(input_path, masks_path)
    assessment = assess_series(series, options)
    reference = None
    if reference_path is not None:
        reference = assess_series(read_with_masks(reference_path, fallback_masks=series.masks), options)
    return assessment, reference


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
) -> None:
    """Assess myocardial velocities of INPUT (Enhanced MR series.dcm, classic DICOM folder or .npz).

    Prints the global radial, circumferential and longitudinal markers per slice and for the
    mean over slices (velocities in mm/s; times in frames normalised to 50 and ms), and writes
    velocities.csv, markers.csv, report.json and curves.png. Radial is positive towards the
    centre, circumferential counter-clockwise as displayed, longitudinal along the slice normal.
    """
    options = AssessmentOptions(
        flip_x=flip_x, flip_y=flip_y, flip_z=flip_z, swap_xy=swap_xy, reference_angle_deg=reference_angle
    )
    assessment, reference = assess_path(input_path, masks_path, reference_path, options)
    click.echo(format_report(assessment, reference))
    out_dir = out_dir if out_dir is not None else default_output_dir(input_path)
    paths = write_report(assessment, out_dir, reference, json_path)
    click.echo(f"\nWrote {', '.join(str(p) for p in paths.values())}")
