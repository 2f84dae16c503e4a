"""``keras-hdl assess``: myocardial velocity assessment of a series (a thin parser over the library).

The work is done by :func:`keras_hdl.assessment.files.assess_to_folder`; this module only parses options.
"""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.assessment.files import OUTPUT_SUFFIX
from keras_hdl.assessment.velocity import DEFAULT_REFERENCE_ANGLE_DEG


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
    from keras_hdl.assessment import AssessmentOptions
    from keras_hdl.assessment.files import assess_to_folder

    options = AssessmentOptions(
        flip_x=flip_x,
        flip_y=flip_y,
        flip_z=flip_z,
        swap_xy=swap_xy,
        reference_angle_deg=reference_angle,
        background_correction=background_correction,
    )
    assess_to_folder(input_path, masks_path, reference_path, out_dir, json_path, options, report=click.echo)
