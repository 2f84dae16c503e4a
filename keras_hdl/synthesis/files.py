"""Synthesise the twin of a series on disk: read it (segmenting it if it has no masks), drop frames if asked,
synthesise with local models or a TF Serving deployment, and write the twin folder.

What `keras-hdl synthesize` does, as one function (:func:`synthesize_path`); the pipeline itself is
:mod:`keras_hdl.synthesis.pipeline`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from keras_hdl.errors import InputError
from keras_hdl.export.serving import REQUEST_TIMEOUT_S
from keras_hdl.memory import require_memory
from keras_hdl.precision import DEFAULT_PRECISION
from keras_hdl.readers import read_without_phase
from keras_hdl.runtime import DEFAULT_BACKEND
from keras_hdl.segmentation.output import automatic_masks_line, with_masks
from keras_hdl.series import Series

if TYPE_CHECKING:
    from keras_hdl.segmentation import Segmentation

SYNTHESIZE_MEMORY_FACTOR = 0.5
SYNTHESIZE_BASE_BYTES = 1.8e9
"""Peak resident memory of ``synthesize``: this base (TensorFlow, the networks) plus the factor times the twin's
in-memory size (it reads the input's magnitude and masks whole and holds the twin's masks; the images go to disk
frame by frame), with a margin: 2.28 GB measured for a 20-slice, 50-frame 256² twin (1.11 GB in memory) of its .npz
with the shipped weights (TFLite, the interpolator's encoder and decoder each with its own arena; 2.18 GB before
the split), 3.57 GB for a 512² one (4.46 GB; keras_hdl.benchmarks.memory)."""


def _low_rate_input(input_path: Path, masks_path: Path | None, k: int | None, downsample_k: int | None, progress: bool):
    """(low-frame-rate series, K, T or None, INPUT as read when segmented or None, its automatic segmentation or
    None) from the options.

    INPUT is read without its phase images (synthesis needs none). INPUT without masks is segmented
    automatically (before any downsampling, so the segmentation sees the whole cycle).
    """
    from keras_hdl.interpolation.plan import validate_k
    from keras_hdl.synthesis import downsample

    if k is None and downsample_k is None:
        raise InputError("give --k K (frames dropped between the kept frames of INPUT) or --downsample K")
    if k is not None and downsample_k is not None and k != downsample_k:
        raise InputError(f"--k {k} and --downsample {downsample_k} disagree; --downsample K alone sets K")
    series = read_without_phase(input_path)
    if downsample_k is not None:
        validate_k(downsample_k, series.num_frames)
    series, segmentation = with_masks(series, masks_path, progress, input_path)
    source = series if segmentation is not None else None  # INPUT whole: only to write its automatic masks
    if downsample_k is None:
        return series, k, None, source, segmentation
    return downsample(series, downsample_k), downsample_k, series.num_frames, source, segmentation


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
    precision: str = DEFAULT_PRECISION,
    server_timeout_s: float = REQUEST_TIMEOUT_S,
    report: Callable[[str], object] | None = None,
    backend: str = DEFAULT_BACKEND,
) -> tuple[Path, Series, Segmentation | None]:
    """Read INPUT, synthesise its twin and write ``out_dir``; returns (out_dir, twin series, segmentation).

    The twin is written frame by frame (:func:`~keras_hdl.synthesis.writer.write_twin`): the returned series has
    its masks, geometry and provenance, and a zero magnitude in place of its images (read them from ``out_dir``).

    INPUT without masks is segmented automatically; its masks (``input_seg.dcm``, or
    ``input_masks.npz`` for a .npz INPUT) and QC overlay (``input_segmentation.png``) are
    written into ``out_dir`` with the twin, and the segmentation is returned (``None`` when
    INPUT had masks). With ``server``, each request waits at most ``server_timeout_s`` seconds,
    and the twin is written only if the server still serves the models version it began with.
    ``backend`` runs the local networks (:func:`keras_hdl.runtime.backend_candidates`; ``auto``: the faster of
    Keras and TFLite fp32 on this machine, timed once per machine and weights). ``report`` (e.g. ``print``)
    gets a line naming what ran the networks, one for automatic masks and one for the twin written.
    """
    from tqdm import tqdm

    from keras_hdl.dicom import SyntheticInfo
    from keras_hdl.synthesis import load_local_models, resolve_models_folder
    from keras_hdl.synthesis.pipeline import DEFAULT_METHOD, plan_twin, validate_low_rate, validate_seed
    from keras_hdl.synthesis.writer import check_out_dir, write_twin

    if model_dir is not None and server is not None:
        raise InputError("give either --model MODELS_DIR or --server URL, not both")
    if server is not None and precision != DEFAULT_PRECISION:
        raise InputError("--precision applies to local models; a TF Serving deployment computes in its own precision")
    if server is not None and backend != DEFAULT_BACKEND:
        raise InputError("--backend applies to local models; a TF Serving deployment runs its own graphs")
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    validate_seed(seed)
    if downsample_k is not None or k is not None:  # the twin has the full series' frames: K+1 per kept frame
        growth = 1 if downsample_k is not None else k + 1
        require_memory(input_path, SYNTHESIZE_MEMORY_FACTOR * growth, "synthesize", SYNTHESIZE_BASE_BYTES)
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
            models = load_local_models(
                resolve_models_folder(model_dir), progress=bar.update, precision=precision, backend=backend
            )
        plan = plan_twin(low_rate, k, models, seed=seed, frames=total)
    if server is not None:
        from keras_hdl.export.serving import confirm_version

        confirm_version(server, models.version)
    extra = None
    if segmentation is not None:
        from keras_hdl.segmentation.output import INPUT_PREFIX, write_automatic

        def extra(folder: Path) -> None:
            write_automatic(input_path, source, segmentation, folder, prefix=INPUT_PREFIX)

    twin = write_twin(plan, out_dir, SyntheticInfo(DEFAULT_METHOD, k, models.version), extra)
    if report is not None:  # after the twin is written: a failure prints its one line only
        report(f"networks: {models.backend}")
        if plan.mirrored:
            report(
                "INPUT is seen from the apex (its slice normal points to the base): the networks, trained on scans "
                "seen from the base, saw it mirrored, and the twin is mirrored back into INPUT's geometry"
            )
        if models.phase.assumes_frame_interval(low_rate.rr_interval_ms):
            report(
                f"RR interval unknown: the twin's velocities assume {models.phase.frame_interval_reference_ms:g} ms "
                "between frames (they scale with 1 / frame interval); give INPUT its RR interval (DICOM "
                "NominalInterval) for a true scale"
            )
        if segmentation is not None:
            report(automatic_masks_line(input_path, segmentation))
        report(twin_line(out_dir, twin))
    return out_dir, twin, segmentation


def twin_line(out_dir: Path, twin: Series) -> str:
    """The line that says what a synthesis wrote."""
    frames, slices, rows, cols = twin.magnitude.shape
    return (
        f"Wrote {out_dir}: series.dcm, seg.dcm, twin.npz ({frames} frames, {slices} slices, {rows}x{cols} px; "
        f"K = {twin.provenance['k']}, models {twin.provenance['model_version']}, seed {twin.provenance['seed']})"
    )
