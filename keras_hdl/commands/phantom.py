"""``keras-hdl phantom``: generate a phantom dataset (a thin parser over :func:`keras_hdl.phantom.write_dataset`)."""

from __future__ import annotations

import click

from keras_hdl.phantom.config import ACQUISITION_MODELS, ANATOMY_MODELS, BACKGROUND_NOISE_MODELS, PhantomConfig
from keras_hdl.phantom.dataset import MANIFEST_FILE, PREVIEW_FILE, SCAN_WRITERS, write_dataset


@click.command("phantom")
@click.argument("out_dir", type=click.Path(file_okay=False, writable=True))
@click.option("--subjects", default=3, show_default=True, help="Number of subjects (split train/val/test by subject).")
@click.option("--rescans", default=1, show_default=True, help="Scans per subject (same anatomy and motion).")
@click.option("--slices", default=3, show_default=True, help="Short-axis slices per scan, base to apex.")
@click.option("--frames", default=50, show_default=True, help="Frames per cardiac cycle (at least 20).")
@click.option("--size", default=128, show_default=True, help="Image rows = columns, pixels (at least 64).")
@click.option("--seed", default=0, show_default=True, help="Dataset seed: the same seed gives the same bytes.")
@click.option(
    "--format",
    "scan_format",
    type=click.Choice(sorted(SCAN_WRITERS)),
    default="npz",
    show_default=True,
    help="File format of each scan.",
)
@click.option(
    "--background-noise",
    type=click.Choice(BACKGROUND_NOISE_MODELS),
    default="gaussian",
    show_default=True,
    help="Phase noise in air: the paper's Gaussian (mean 0.034, std 0.034, normalised) or uniform over 0..4096.",
)
@click.option(
    "--anatomy",
    type=click.Choice(ANATOMY_MODELS),
    default="v1",
    show_default=True,
    help="v2: through-plane motion changes the cut, trabeculated elliptical uneven wall, regional amplitudes.",
)
@click.option(
    "--acquisition",
    type=click.Choice(ACQUISITION_MODELS),
    default="fixed",
    show_default=True,
    help="varied: every scan draws its matrix, spacing, orientation, LV position, venc, heart rate, frames, SNR "
    "and coil shading (--size and --frames then do not apply; see the manifest).",
)
@click.option("--aliasing", is_flag=True, help="Wrap the phase where |v| > venc (default: clip).")
@click.option("--eddy-currents", is_flag=True, help="Add a static, smooth background-phase offset per scan.")
@click.option(
    "--preview",
    is_flag=True,
    help=f"Also write {PREVIEW_FILE}, a montage of one slice (with --acquisition varied: of up to 8 scans).",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT_DIR if it exists and is not empty.")
def command(
    out_dir: str,
    subjects: int,
    rescans: int,
    slices: int,
    frames: int,
    size: int,
    seed: int,
    scan_format: str,
    background_noise: str,
    anatomy: str,
    acquisition: str,
    aliasing: bool,
    eddy_currents: bool,
    preview: bool,
    overwrite: bool,
) -> None:
    """Generate a phantom 3Dir MVM dataset with known velocities into OUT_DIR.

    Writes one folder per scan (series and ground truth), a manifest.json with the
    parameters and the subject splits, and with --preview a PNG montage.
    """
    config = PhantomConfig(
        subjects=subjects,
        rescans=rescans,
        slices=slices,
        frames=frames,
        size=size,
        seed=seed,
        background_noise=background_noise,
        anatomy=anatomy,
        acquisition=acquisition,
        aliasing=aliasing,
        eddy_currents=eddy_currents,
    )
    manifest = write_dataset(out_dir, config, scan_format=scan_format, preview=preview, overwrite=overwrite)
    splits = ", ".join(f"{name} {len(ids)}" for name, ids in manifest["splits"].items())
    if acquisition == "varied":
        shape = f"{slices} slices, each scan its own acquisition (listed in the manifest)"
    else:
        shape = f"{slices} slices x {frames} frames x {size}x{size} px, {config.pixel_spacing_mm:.2f} mm pixels"
    click.echo(f"wrote {len(manifest['scans'])} scans of {subjects} subjects ({splits}) to {out_dir}/: {shape}")
    click.echo(f"manifest: {out_dir}/{MANIFEST_FILE}")
    if preview:
        click.echo(f"preview: {out_dir}/{PREVIEW_FILE}")
