"""``keras-hdl demo``: the whole story on the built-in phantom, as a sequence of plain steps.

For now: generate a phantom dataset, print its summary (with the ground-truth peak
velocities per slice, mm/s) and write the preview montage. Later steps (train, export,
synthesize, assess) append to :func:`run_demo`.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import MANIFEST_FILE, PREVIEW_FILE, load_manifest, write_dataset
from keras_hdl.phantom.truth import load_truth

DEMO_PHANTOM = PhantomConfig(subjects=3, rescans=1, slices=3, frames=50, size=128, seed=0)
PHANTOM_SUBDIR = "phantom"


def generate_demo_phantom(out_dir: Path) -> tuple[Path, dict]:
    """Step 1: (re)write the demo's phantom dataset in ``out_dir/phantom``; returns its folder and manifest.

    Replaces only a previous demo phantom there (a folder with a phantom manifest); any
    other non-empty folder of that name is refused.
    """
    dataset_dir = out_dir / PHANTOM_SUBDIR
    previous = dataset_dir.is_dir() and any(dataset_dir.iterdir())
    if previous and not (dataset_dir / MANIFEST_FILE).is_file():
        raise InputError(
            f"{dataset_dir}: exists, is not empty and is not a phantom dataset; choose another --out folder"
        )
    if previous:
        load_manifest(dataset_dir)  # refuse anything that is not a readable phantom manifest
    manifest = write_dataset(dataset_dir, DEMO_PHANTOM, preview=True, overwrite=True)
    return dataset_dir, manifest


def peak_table(dataset_dir: Path, manifest: dict) -> list[str]:
    """Lines of the ground-truth peaks per slice (mean over scans), mm/s, with the markers' windows and signs."""
    from keras_hdl.assessment.markers import compute_markers

    truths = [load_truth(dataset_dir / scan["truth"]) for scan in manifest["scans"]]
    markers = [compute_markers(truth.curves_mm_s, truth.rr_interval_ms) for truth in truths]
    mean = {name: np.mean([m[name] for m in markers], axis=0) for name in ("psv", "pdv", "pav")}  # (S, 3)
    header = (
        f"{'slice':<6}{'radial S':>10}{'radial E':>10}{'circ S':>9}{'circ E':>9}"
        f"{'long S':>9}{'long E':>9}{'long A':>9}   (ground truth, mm/s, mean of {len(truths)} scans)"
    )
    lines = [header]
    for index, label in enumerate(manifest["slice_labels"]):
        psv, pdv, pav = mean["psv"][index], mean["pdv"][index], mean["pav"][index]
        lines.append(
            f"{label:<6}{psv[0]:>10.1f}{pdv[0]:>10.1f}{psv[1]:>9.1f}{pdv[1]:>9.1f}{psv[2]:>9.1f}{pdv[2]:>9.1f}{pav[2]:>9.1f}"
        )
    return lines


def summary_lines(dataset_dir: Path, manifest: dict) -> list[str]:
    """A short summary of a phantom dataset: scans, splits, shape, spacing and ground-truth peaks."""
    parameters = manifest["parameters"]
    splits = ", ".join(f"{name}: {', '.join(ids) or '-'}" for name, ids in manifest["splits"].items())
    return [
        f"phantom dataset: {dataset_dir}",
        f"  {len(manifest['scans'])} scans of {parameters['subjects']} subjects; splits by subject: {splits}",
        f"  {parameters['slices']} slices ({', '.join(manifest['slice_labels'])}) x {parameters['frames']} frames, "
        f"{parameters['size']}x{parameters['size']} px at {parameters['pixel_spacing_mm']:.2f} mm, "
        f"venc {'/'.join(f'{v:g}' for v in parameters['venc_cm_s'])} cm/s",
        *(f"  {line}" for line in peak_table(dataset_dir, manifest)),
    ]


def run_demo(out_dir: str | Path) -> list[str]:
    """Run the demo's steps into ``out_dir``; returns the lines it reports."""
    out_dir = Path(out_dir)
    dataset_dir, manifest = generate_demo_phantom(out_dir)
    return [
        *summary_lines(dataset_dir, manifest),
        f"manifest: {dataset_dir / MANIFEST_FILE}",
        f"preview:  {dataset_dir / PREVIEW_FILE}",
    ]


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for everything the demo writes (its own previous output there is replaced).",
)
def command(out_dir: str) -> None:
    """Run the whole story on the built-in phantom (for now: generate it, summarise it, preview it)."""
    for line in run_demo(out_dir):
        click.echo(line)
