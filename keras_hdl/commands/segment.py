"""``keras-hdl segment``: automatic LV myocardium masks of a series (a thin parser over the library)."""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.errors import InputError


def parse_slices(value: str | None) -> tuple[int, ...] | None:
    """``--slices 0,2`` → (0, 2); ``None`` for all slices."""
    if value is None:
        return None
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as err:
        raise InputError(
            f"--slices {value}: expected comma-separated 0-based slice numbers, e.g. --slices 0,2"
        ) from err


@click.command("segment")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The masks: a cine DICOM SEG (e.g. seg.dcm) referencing a DICOM INPUT, or a .npz (array `masks`).",
)
@click.option(
    "--preview",
    "preview_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a QC overlay PNG: the borders on end diastole, end systole and the least confident frame "
    "of every slice.",
)
@click.option("--slices", help="Comma-separated 0-based slices to segment (default all); the others stay empty.")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def command(input_path: Path, out_path: Path, preview_path: Path | None, slices: str | None, no_progress: bool) -> None:
    """Segment the LV myocardium of every frame and slice of INPUT (Enhanced MR series.dcm, classic DICOM folder
    or .npz).

    \b
    The masks are written as the cine DICOM SEG that `assess --masks` and `synthesize --masks`
    read (it references INPUT, so a DICOM viewer shows it over the images, where it can be
    corrected), or as a .npz. The method is classical (no training data): it finds the
    round, bright, beating blood pool in its darker ring, then both borders of every frame by
    shortest paths around it; papillary muscles are left in the cavity. Frames whose
    confidence is low are named so they can be checked.
    """
    from keras_hdl.segmentation.output import segment_path

    segment_path(input_path, out_path, preview_path, parse_slices(slices), not no_progress, report=click.echo)
