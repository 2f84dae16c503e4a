"""Write a phantom dataset: one folder per scan, a manifest, the ground truth and a preview.

Layout of ``OUT_DIR`` (written atomically: built beside it, renamed at the end)::

    OUT_DIR/
      manifest.json            dataset seed, parameters, subjects, splits, scans
      <scan_id>/series.npz     the series (format "npz"; other writers add their files)
      <scan_id>/truth.npz      ground truth (see keras_hdl.phantom.truth)
      preview.png              with preview=True: montage of the first scan's middle slice
                               (varied acquisition: the middle slice of up to 8 scans)

Each scan's manifest entry lists its ``acquisition`` (matrix, pixel spacing, frames, RR
interval and heart rate, venc, SNR and its band, in-plane rotation, LV offset, coil;
:meth:`keras_hdl.phantom.scan.Acquisition.as_dict`) and, with eddy currents, their
coefficients ``eddy_mm_s``: a per-variant report groups scans by these fields.

Scan ids are ``subj003_scan1`` (1-based). Splits are by subject (a subject's rescans
stay together): a seeded shuffle of the subjects, then about 70 / 15 / 15 % for
train / val / test with at least one subject in each when N ≥ 3 (N = 1: train;
N = 2: train and test).

Writers: :data:`SCAN_WRITERS` maps a format name to ``writer(series, scan_dir) ->
[file names]`` (names relative to the scan folder). The CLI's ``--format`` choices come
from it, so a DICOM writer plugs in by adding an entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_hdl import __version__
from keras_hdl.dicom import dicom_classic_scan_writer, dicom_scan_writer
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.phantom.config import REALISM_V2, PhantomConfig, draw_subject
from keras_hdl.phantom.generate import generate_scan
from keras_hdl.phantom.preview import VARIETY_PREVIEW_SCANS, VarietyPanel, write_preview, write_variety_preview
from keras_hdl.phantom.scan import draw_scan
from keras_hdl.phantom.truth import TRUTH_FILE
from keras_hdl.runtime import cache_dir
from keras_hdl.series import Series

MANIFEST_FILE = "manifest.json"
PREVIEW_FILE = "preview.png"
SERIES_NPZ_FILE = "series.npz"
MANIFEST_VERSION = 1
SPLITS = ("train", "val", "test")
HELD_OUT_FRACTION = 0.15
"""Share of subjects in each of val and test."""

ScanWriter = Callable[[Series, Path], list[str]]


def write_npz_scan(series: Series, scan_dir: Path) -> list[str]:
    """Format ``npz``: the whole series (with masks) as ``series.npz``."""
    series.save_npz(scan_dir / SERIES_NPZ_FILE)
    return [SERIES_NPZ_FILE]


SCAN_WRITERS: dict[str, ScanWriter] = {
    "npz": write_npz_scan,
    "dicom": dicom_scan_writer,  # series.dcm (Enhanced MR) + seg.dcm (cine SEG)
    "dicom-classic": dicom_classic_scan_writer,  # series/ (Siemens-style single-frame files) + seg.dcm
}
"""Format name → writer of one scan into its folder; returns the file names it wrote."""


def split_subjects(subject_ids: list[str], seed: int) -> dict[str, list[str]]:
    """Assign whole subjects to train / val / test (see module docstring); lists keep the input order."""
    count = len(subject_ids)
    held_out = 0 if count < 3 else max(1, round(HELD_OUT_FRACTION * count))
    sizes = {"val": held_out, "test": held_out if count >= 3 else count - 1}
    order = np.random.default_rng([int(seed), 0x5EED]).permutation(count)
    assigned: dict[int, str] = {}
    position = 0
    for split in ("test", "val"):
        for index in order[position : position + sizes[split]]:
            assigned[int(index)] = split
        position += sizes[split]
    return {split: [sid for i, sid in enumerate(subject_ids) if assigned.get(i, "train") == split] for split in SPLITS}


def check_output_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder without ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; choose another output folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(f"{out_dir}: folder exists and is not empty; pass --overwrite to replace it")


def write_dataset(
    out_dir: str | Path,
    config: PhantomConfig,
    scan_format: str = "npz",
    preview: bool = False,
    overwrite: bool = False,
) -> dict:
    """Generate and write a phantom dataset to ``out_dir`` (see module docstring); returns the manifest.

    Raises :class:`InputError` (nothing written) for an unknown format or an existing
    non-empty ``out_dir`` without ``overwrite``.
    """
    out_dir = Path(out_dir)
    if scan_format not in SCAN_WRITERS:
        raise InputError(f"phantom format: unknown format {scan_format!r}; choose one of {', '.join(SCAN_WRITERS)}")
    check_output_dir(out_dir, overwrite)
    writer = SCAN_WRITERS[scan_format]
    subjects = [draw_subject(config.seed, index, config.anatomy) for index in range(config.subjects)]
    splits = split_subjects([subject.subject_id for subject in subjects], config.seed)
    split_of = {sid: split for split, sids in splits.items() for sid in sids}

    scans = []
    panels: list[VarietyPanel] = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for subject_index, subject in enumerate(subjects):
            for rescan_index in range(config.rescans):
                scan = draw_scan(config.seed, subject_index, rescan_index, config)
                series, truth = generate_scan(subject, scan, config)
                scan_dir = tmp / scan.scan_id
                scan_dir.mkdir()
                files = [f"{scan.scan_id}/{name}" for name in writer(series, scan_dir)]
                truth.save(scan_dir / TRUTH_FILE)
                acquisition = scan.acquisition_for(subject, config)
                extra = {} if scan.eddy_mm_s is None else {"eddy_mm_s": [list(c) for c in scan.eddy_mm_s]}
                scans.append(
                    {
                        "scan_id": scan.scan_id,
                        "subject": subject.subject_id,
                        "rescan": scan.rescan,
                        "split": split_of[subject.subject_id],
                        "slice_labels": list(truth.slice_labels),
                        "files": files,
                        "truth": f"{scan.scan_id}/{TRUTH_FILE}",
                        "acquisition": acquisition.as_dict(),
                        **extra,
                    }
                )
                if preview and config.acquisition == "varied" and len(panels) < VARIETY_PREVIEW_SCANS:
                    panels.append(VarietyPanel.of(series, truth, scan.scan_id, acquisition))
                elif preview and subject_index == 0 and rescan_index == 0:
                    write_preview(
                        tmp / PREVIEW_FILE,
                        series,
                        end_systolic_frame=truth.end_systolic_frame,
                        title=f"{scan.scan_id} {truth.slice_labels[series.num_slices // 2]} (phantom)",
                    )
        if panels:
            write_variety_preview(tmp / PREVIEW_FILE, panels)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "generator": f"keras-hdl {__version__} phantom",
            "seed": int(config.seed),
            "format": scan_format,
            "parameters": config.as_dict(),
            "slice_labels": config.slice_labels,
            "splits": splits,
            "subjects": [{**subject.as_dict(), "split": split_of[subject.subject_id]} for subject in subjects],
            "scans": scans,
            "preview": PREVIEW_FILE if preview else None,
        }
        write_json(tmp / MANIFEST_FILE, manifest)
    return manifest


def load_manifest(out_dir: str | Path) -> dict:
    """The manifest of a dataset written by :func:`write_dataset`."""
    path = Path(out_dir) / MANIFEST_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable phantom manifest ({err}); is this a phantom dataset folder?") from err


DEFAULT_PHANTOM = PhantomConfig(subjects=12, size=128, seed=0, **REALISM_V2)
"""The built-in phantom (`keras-hdl train` without --data, evaluation): 12 subjects × 3 slices, phantom v2
anatomy, each scan its own acquisition (spacing 1.3–2.6 mm, 30–60 frames, SNR, venc; see the manifest)."""


PHANTOM_REVISION = 2
"""Raised whenever the renderer draws other images from the same config (2: the anatomy seen from the base,
RV on the right), so a cached built-in phantom of an earlier revision is not reused."""


def default_phantom_name() -> str:
    """The built-in phantom's name: its cache folder's, and the tag of runs trained on it (a new phantom, new runs)."""
    config = DEFAULT_PHANTOM
    name = f"phantom-{config.anatomy}-{config.acquisition}-{config.subjects}subjects-seed{config.seed}"
    return f"{name}-r{PHANTOM_REVISION}"


def default_phantom_dir() -> Path:
    """The built-in phantom dataset in the cache folder (:func:`~keras_hdl.runtime.cache_dir`), made on first use."""
    folder = cache_dir() / default_phantom_name()
    if not (folder / MANIFEST_FILE).is_file():
        print(f"generating the built-in phantom dataset into {folder} (once)")
        write_dataset(folder, DEFAULT_PHANTOM, overwrite=True)
    return folder
