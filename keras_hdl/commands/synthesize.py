"""``keras-hdl synthesize``: a digital twin from a low-frame-rate magnitude series (a thin parser).

The work is done by :func:`keras_hdl.synthesis.files.synthesize_path`; the pipeline is :mod:`keras_hdl.synthesis`.
"""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.export.serving import REQUEST_TIMEOUT_S
from keras_hdl.precision import DEFAULT_PRECISION, INFERENCE_PRECISIONS
from keras_hdl.runtime import BACKENDS, DEFAULT_BACKEND


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
    type=click.Choice(INFERENCE_PRECISIONS),
    default=DEFAULT_PRECISION,
    show_default=True,
    help="Compute precision of the local networks. bf16 is about 1.3x faster on CPUs with AVX512-BF16/AMX "
    "and stays within a tested tolerance of fp32 (docs/benchmarks.md); auto picks bf16 where the hardware "
    "has it. fp32 gives the same numbers on every machine.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=DEFAULT_BACKEND,
    show_default=True,
    help="What runs the local networks: keras, xla (XLA-compiled Keras) or tflite (TFLite fp32, needs "
    "ai-edge-litert: pip install keras-hdl[tflite]; within a tested tolerance of keras). auto: on a CPU with "
    "ai-edge-litert, the faster of keras and tflite here (timed on a short twin the first time, then kept in "
    "$KERAS_HDL_CACHE/backend-choice/ per machine and weights); else keras, also on a GPU and with --precision "
    "bf16 (xla and tflite compute fp32). The output names the one used and why.",
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
    backend: str,
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
    from keras_hdl.synthesis.files import synthesize_path

    synthesize_path(
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
        report=click.echo,
        backend=backend,
    )
