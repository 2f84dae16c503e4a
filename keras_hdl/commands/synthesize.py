"""``keras-hdl synthesize``: a digital twin from a low-frame-rate magnitude series (a thin parser).

The work is done by :func:`synthesize_path`; the pipeline is :mod:`keras_hdl.synthesis`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keras_hdl.errors import InputError
from keras_hdl.export.serving import REQUEST_TIMEOUT_S
from keras_hdl.memory import require_memory
from keras_hdl.series import Series

if TYPE_CHECKING:
    from keras_hdl.segmentation import Segmentation

SYNTHESIZE_MEMORY_FACTOR = 3.5
"""Peak resident memory of ``synthesize`` over the twin's in-memory size, with a margin: 3.47 GB measured for a
20-slice, 50-frame 256² twin (1.11 GB in memory) of its .npz with the shipped weights (keras_hdl.benchmarks.memory)."""


def _low_rate_input(input_path: Path, masks_path: Path | None, k: int | None, downsample_k: int | None, progress: bool):
    """(low-frame-rate series, K, T or None, INPUT as read, its automatic segmentation or None) from the options.

    INPUT without masks is segmented automatically (before any downsampling, so the
    segmentation sees the whole cycle).
    """
    from keras_hdl.commands.assess import with_masks
    from keras_hdl.interpolation.plan import validate_k
    from keras_hdl.readers import read_series
    from keras_hdl.synthesis import downsample

    if k is None and downsample_k is None:
        raise InputError("give --k K (frames dropped between the kept frames of INPUT) or --downsample K")
    if k is not None and downsample_k is not None and k != downsample_k:
        raise InputError(f"--k {k} and --downsample {downsample_k} disagree; --downsample K alone sets K")
    series = read_series(input_path)
    if downsample_k is not None:
        validate_k(downsample_k, series.num_frames)
    series, segmentation = with_masks(series, masks_path, progress, input_path)
    if downsample_k is None:
        return series, k, None, series, segmentation
    return downsample(series, downsample_k), downsample_k, series.num_frames, series, segmentation


def synthesize_path(
    input_path: str | Path,
    out_dir: str | Path,
    k: int | None = None,
    model_dir: str | Path | None = None,
    server: str | None = None,
    seed: int = 0,
    downsample_k: int | None = None,
    frames: int | None = None,
    masks_path: str | Path | None = None,
    progress: bool = True,
    precision: str = "fp32",
    server_timeout_s: float = REQUEST_TIMEOUT_S,
) -> tuple[Path, Series, Segmentation | None]:
    """Read INPUT, synthesise its twin and write ``out_dir``; returns (out_dir, twin series, segmentation).

    INPUT without masks is segmented automatically; its masks (``input_seg.dcm``, or
    ``input_masks.npz`` for a .npz INPUT) and QC overlay (``input_segmentation.png``) are
    written into ``out_dir`` with the twin, and the segmentation is returned (``None`` when
    INPUT had masks). With ``server``, each request waits at most ``server_timeout_s`` seconds,
    and the twin is written only if the server still serves the models version it began with.
    """
    from tqdm import tqdm

    from keras_hdl.dicom import SyntheticInfo
    from keras_hdl.synthesis import load_local_models, resolve_models_folder, synthesize_twin
    from keras_hdl.synthesis.pipeline import DEFAULT_METHOD, validate_low_rate, validate_seed
    from keras_hdl.synthesis.writer import check_out_dir, write_twin

    if model_dir is not None and server is not None:
        raise InputError("give either --model MODELS_DIR or --server URL, not both")
    if server is not None and precision != "fp32":
        raise InputError("--precision applies to local models; a TF Serving deployment computes in its own precision")
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    validate_seed(seed)
    if downsample_k is not None or k is not None:  # the twin has the full series' frames: K+1 per kept frame
        growth = 1 if downsample_k is not None else k + 1
        require_memory(input_path, SYNTHESIZE_MEMORY_FACTOR * growth, "synthesize")
    low_rate, k, full_frames, source, segmentation = _low_rate_input(
        Path(input_path), masks_path, k, downsample_k, progress
    )
    if full_frames is not None and frames is not None and frames != full_frames:
        raise InputError(f"--frames {frames} disagrees with the {full_frames} frames of the full INPUT")
    total = validate_low_rate(low_rate, k, frames or full_frames)
    slices = low_rate.num_slices
    bar = tqdm(
        total=slices * (2 * total - low_rate.num_frames),
        unit="frame",
        file=sys.stderr,
        disable=not progress,
        desc="synthesizing",
    )
    with bar:
        if server is not None:
            from keras_hdl.export.serving import connect

            models = connect(server, progress=bar.update, timeout_s=server_timeout_s)
        else:
            models = load_local_models(resolve_models_folder(model_dir), progress=bar.update, precision=precision)
        twin = synthesize_twin(low_rate, k, models, seed=seed, frames=total)
    if server is not None:
        from keras_hdl.export.serving import confirm_version

        confirm_version(server, models.version)
    extra = None
    if segmentation is not None:
        from keras_hdl.segmentation.output import INPUT_PREFIX, write_automatic

        def extra(folder: Path) -> None:
            write_automatic(input_path, source, segmentation, folder, prefix=INPUT_PREFIX)

    write_twin(twin, out_dir, SyntheticInfo(DEFAULT_METHOD, k, models.version), extra)
    return out_dir, twin, segmentation


@click.command("synthesize")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--k",
    "k",
    type=int,
    help="Frames dropped between the kept frames of INPUT (0-6). INPUT holds only the kept frames "
    "0, K+1, 2(K+1), ... of one cycle.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: series.dcm, seg.dcm and twin.npz (written whole or not at all).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    help="A models folder (the models/ of `keras-hdl train`). Default: the shipped weights.",
)
@click.option(
    "--server",
    help="Use a TensorFlow Serving deployment instead of local models, e.g. http://localhost:8501 "
    "(REST port; see docs/deployment.md).",
)
@click.option(
    "--server-timeout",
    "server_timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=REQUEST_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for each answer of --server (refused connections and HTTP 5xx are retried twice).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the background phase noise.")
@click.option(
    "--downsample",
    "downsample_k",
    type=int,
    help="INPUT is a full series: keep frames 0, K+1, 2(K+1), ... first (evaluation and demos). Sets K.",
)
@click.option(
    "--frames",
    type=int,
    help="T, frames per cycle of the twin. Default: (kept frames) x (K+1); give it when the last gap is "
    "shorter (e.g. 8 kept frames at K=6 of a 50-frame cycle: --frames 50).",
)
@click.option(
    "--masks",
    "masks_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Myocardium masks of INPUT's frames (DICOM SEG, NIfTI or .npz `masks`). Default: INPUT's own "
    "(a .npz's `masks`, or the seg.dcm beside a DICOM file); without any, INPUT is segmented automatically.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "auto"]),
    default="fp32",
    show_default=True,
    help="Compute precision of the local networks. bf16 is about 1.3x faster on CPUs with AVX512-BF16/AMX "
    "and stays within a tested tolerance of fp32 (docs/benchmarks.md); auto picks bf16 where the hardware "
    "has it. fp32 gives the same numbers on every machine.",
)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def command(
    input_path: Path,
    k: int | None,
    out_dir: Path,
    model_dir: Path | None,
    server: str | None,
    server_timeout_s: float,
    seed: int,
    downsample_k: int | None,
    frames: int | None,
    masks_path: Path | None,
    precision: str,
    no_progress: bool,
) -> None:
    """Make the synthetic digital twin of INPUT: every frame's magnitude, myocardium mask and x, y, z phase.

    \b
    INPUT is a low-frame-rate magnitude series (keras-hdl .npz, Enhanced MR series.dcm, or a
    classic DICOM folder) holding ONLY the kept frames 0, K+1, 2(K+1), ... of one cardiac
    cycle, with the myocardium mask of every kept frame and slice; --k says how many frames
    were dropped between them, and the twin has T = (kept frames) x (K+1) frames unless
    --frames says otherwise. With --downsample K, INPUT is instead a full series whose frames
    are dropped first. The twin is synthetic and de-identified (no identity of INPUT is
    carried); `keras-hdl assess OUT/series.dcm` reads it directly.
    INPUT without masks is segmented automatically (as `keras-hdl segment` does); its masks
    and QC overlay go into OUT as input_seg.dcm (input_masks.npz for a .npz) and
    input_segmentation.png.
    """
    out_dir, twin, segmentation = synthesize_path(
        input_path,
        out_dir,
        k,
        model_dir,
        server,
        seed,
        downsample_k,
        frames,
        masks_path,
        not no_progress,
        precision,
        server_timeout_s,
    )
    if segmentation is not None:
        from keras_hdl.commands.assess import automatic_masks_line

        click.echo(automatic_masks_line(input_path, segmentation))
    frames_count, slices, rows, cols = twin.magnitude.shape
    click.echo(
        f"Wrote {out_dir}: series.dcm, seg.dcm, twin.npz ({frames_count} frames, {slices} slices, {rows}x{cols} px; "
        f"K = {twin.provenance['k']}, models {twin.provenance['model_version']}, seed {twin.provenance['seed']})"
    )
