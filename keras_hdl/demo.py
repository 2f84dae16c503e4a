"""The demo: the whole story on the built-in phantom, as a sequence of plain steps (`keras-hdl demo`).

1. generate a phantom dataset (3 subjects) and print its summary and ground-truth peaks;
2. train both modules briefly with the ``tiny`` preset (to show ``train`` works; the
   twin below uses the shipped ``cpu`` weights, not this run);
3. synthesise a K = 6 digital twin of the test subject's scan with the shipped weights;
4. assess the twin and the original, print their markers side by side with the Pearson
   correlation of the curves, and plot both (original dashed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import MANIFEST_FILE, PREVIEW_FILE, load_manifest, write_dataset
from keras_hdl.phantom.truth import load_truth

DEMO_PHANTOM = PhantomConfig(subjects=3, rescans=1, slices=3, frames=50, size=128, seed=0)
PHANTOM_SUBDIR = "phantom"
RUN_SUBDIR = "run"
TWIN_SUBDIR = "twin"
REPORT_SUBDIR = "twin_vs_original"
DEMO_K = 6
MARKERS = ("psv", "tpsv", "pdv", "tpdv", "pav", "tpav", "mean")


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


def train_briefly(out_dir: Path, dataset_dir: Path) -> Path:
    """Step 2: one short epoch of each module with the tiny preset into ``out_dir/run``."""
    import shutil

    from keras_hdl.training.options import TrainOptions
    from keras_hdl.training.train import train

    run_dir = out_dir / RUN_SUBDIR
    if run_dir.exists():
        shutil.rmtree(run_dir)
    train(TrainOptions(out_dir=run_dir, preset="tiny", data=dataset_dir, epochs=1, verbose=0))
    return run_dir


def synthesize_test_twin(out_dir: Path, dataset_dir: Path, manifest: dict) -> tuple[Path, Path]:
    """Step 3: the K = 6 twin of the test subject's scan with the shipped weights; returns (original, twin dir)."""
    import shutil

    from keras_hdl.synthesis.files import synthesize_path

    scan = next(scan for scan in manifest["scans"] if scan["split"] == "test")
    original = dataset_dir / scan["files"][0]
    twin_dir = out_dir / TWIN_SUBDIR
    if twin_dir.exists():
        shutil.rmtree(twin_dir)
    synthesize_path(original, twin_dir, downsample_k=DEMO_K, seed=0)
    return original, twin_dir


def compare_lines(original: Path, twin_dir: Path, report_dir: Path) -> list[str]:
    """Step 4: assess original and twin; markers of the mean over slices side by side, Pearson, plot."""
    from keras_hdl.assessment import assess_series, compare, compute_markers, write_report
    from keras_hdl.assessment.velocity import COMPONENT_NAMES
    from keras_hdl.readers import read_series

    real = assess_series(read_series(original))
    twin = assess_series(read_series(twin_dir / "series.dcm"))
    written = write_report(twin, report_dir, reference=real)
    _, pearson = compare(twin, real)
    real_markers = compute_markers(real.mean_curves, real.rr_interval_ms)
    twin_markers = compute_markers(twin.mean_curves, twin.rr_interval_ms)
    lines = [
        f"markers of the mean over slices, original vs K = {DEMO_K} twin "
        "(velocities mm/s; times in frames normalised to 50)",
        f"{'component':<16}" + "".join(f"{name.upper():>16}" for name in MARKERS),
    ]
    for index, component in enumerate(COMPONENT_NAMES):
        cells = "".join(f"{real_markers[name][index]:>7.1f} /{twin_markers[name][index]:>7.1f}" for name in MARKERS)
        lines.append(f"{component:<16}{cells}")
    lines.append(
        "Pearson r of the curves (twin vs original): "
        + ", ".join(f"{name} {value:.3f}" for name, value in zip((*COMPONENT_NAMES, "overall"), pearson, strict=True))
    )
    lines.append(f"curves plot (original dashed): {written['curves.png']}")
    return lines


def run_demo(out_dir: str | Path, report: Callable[[str], object] = print) -> list[str]:
    """Run the demo's steps into ``out_dir``; ``report`` gets each line as it comes; returns them all."""
    out_dir = Path(out_dir)
    dataset_dir, manifest = generate_demo_phantom(out_dir)
    lines = [
        *summary_lines(dataset_dir, manifest),
        f"manifest: {dataset_dir / MANIFEST_FILE}",
        f"preview:  {dataset_dir / PREVIEW_FILE}",
    ]
    _report(report, lines)
    run_dir = train_briefly(out_dir, dataset_dir)
    _report(report, [f"trained the tiny preset for one epoch: {run_dir} (metrics.csv, checkpoints, models/)"])
    original, twin_dir = synthesize_test_twin(out_dir, dataset_dir, manifest)
    _report(report, [f"K = {DEMO_K} twin of {original}: {twin_dir} (series.dcm, seg.dcm, twin.npz)"])
    comparison = compare_lines(original, twin_dir, out_dir / REPORT_SUBDIR)
    _report(report, comparison)
    return lines + comparison


def _report(report: Callable[[str], object], lines: list[str]) -> None:
    for line in lines:
        report(line)
