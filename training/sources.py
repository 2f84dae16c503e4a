"""Where training data come from: a phantom dataset, a folder of scans, or prepared shards.

``load_training_data(path, crop_size)`` returns the train and validation slice cines:

- no path: the built-in phantom (:data:`keras_hdl.phantom.dataset.DEFAULT_PHANTOM`), generated once into the
  cache folder (``$KERAS_HDL_CACHE``, default ``~/.cache/keras-hdl``) and reused;
- a phantom dataset folder (``manifest.json``): its train / val splits (by subject);
- a folder of scans, each a sub-folder holding ``series.dcm`` (+ ``seg.dcm``), a classic
  DICOM folder or ``series.npz``: with ``train/`` and ``val/`` sub-folders those are the
  splits, otherwise a stable hash of each scan folder's name sends about 15 % to val;
- a folder written by ``keras-hdl prepare`` (``train/`` and ``val/`` TFRecord shards, and
  the background noise fitted on the training split in ``background_noise.json``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, write_json
from keras_hdl.models import fit_background_noise
from keras_hdl.phantom.dataset import MANIFEST_FILE, default_phantom_dir, load_manifest
from keras_hdl.readers import read_series
from keras_hdl.series import Series
from keras_hdl.training.data import CineSource, SliceCines, median_spacing, slice_cines_from_series
from keras_hdl.training.records import INDEX_FILE, RecordShards, write_shards

SCAN_FILES = ("series.npz", "series.dcm", "series")
VALIDATION_PERCENT = 15
BACKGROUND_FILE = "background_noise.json"


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """Train and validation cines, and what they are (for the run's records).

    ``prepared_background`` is the (mean, std) background fit that `keras-hdl prepare`
    stored beside streamed shards (whose training cines are not in memory).
    """

    train: CineSource
    val: SliceCines
    description: str
    pixel_spacing_mm: tuple[float, float]
    prepared_background: tuple[float, float] | None = None


def background_noise(data: TrainingData) -> tuple[float, float]:
    """μ, σ of the normalised background phase over the training cines (docs/design.md §2.2)."""
    if data.prepared_background is not None:
        return data.prepared_background
    cines = data.train if isinstance(data.train, SliceCines) else data.val
    return fit_background_noise(cines.phase, cines.magnitude)


def _scan_file(scan_dir: Path) -> Path | None:
    return next((scan_dir / name for name in SCAN_FILES if (scan_dir / name).exists()), None)


def _phantom_splits(folder: Path) -> dict[str, list[Series]]:
    manifest = load_manifest(folder)
    splits: dict[str, list[Series]] = {"train": [], "val": []}
    for scan in manifest["scans"]:
        if scan["split"] in splits:
            splits[scan["split"]].append(read_series(_scan_file(folder / scan["scan_id"])))
    return splits


def _is_validation(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100 < VALIDATION_PERCENT


def _scan_folder_splits(folder: Path) -> dict[str, list[Series]]:
    if (folder / "train").is_dir() and (folder / "val").is_dir():
        groups = {split: sorted(p for p in (folder / split).iterdir() if p.is_dir()) for split in ("train", "val")}
    else:
        scans = sorted(p for p in folder.iterdir() if p.is_dir() and _scan_file(p))
        groups = {
            "train": [p for p in scans if not _is_validation(p.name)],
            "val": [p for p in scans if _is_validation(p.name)],
        }
    splits = {}
    for split, scan_dirs in groups.items():
        series = []
        for scan_dir in scan_dirs:
            scan_file = _scan_file(scan_dir)
            if scan_file is None:
                continue
            loaded = read_series(scan_file)
            if loaded.masks is None:
                raise InputError(f"{scan_dir}: no myocardium masks; put a seg.dcm (DICOM SEG) beside the series")
            series.append(loaded)
        splits[split] = series
    return splits


def load_series_splits(path: str | Path | None) -> tuple[dict[str, list[Series]], str]:
    """Train and val series from a phantom dataset or a folder of scans (module docstring)."""
    folder = default_phantom_dir() if path is None else Path(path)
    if not folder.is_dir():
        raise InputError(f"--data {folder}: no such folder")
    if (folder / MANIFEST_FILE).is_file():
        splits, kind = _phantom_splits(folder), "phantom dataset"
    else:
        splits, kind = _scan_folder_splits(folder), "folder of scans"
    if not splits["train"]:
        raise InputError(
            f"--data {folder}: no usable series for training (expected scan folders holding "
            f"{' / '.join(SCAN_FILES)} with masks, a phantom dataset, or `keras-hdl prepare` shards)"
        )
    if not splits["val"]:
        splits["val"] = splits["train"][-1:]
        kind += " (no validation split: the last training scan validates)"
    return splits, f"{kind} {folder}"


def load_training_data(path: str | Path | None, crop_size: int) -> TrainingData:
    """Cropped, normalised train and val cines from ``path`` (see module docstring)."""
    if path is not None and (Path(path) / "train" / INDEX_FILE).is_file():
        train = RecordShards.open(Path(path) / "train")
        val = RecordShards.open(Path(path) / "val").load()
        if train.crop_size != crop_size:
            raise InputError(
                f"--data {path}: shards were prepared with {train.crop_size}-px crops but the preset uses "
                f"{crop_size}; run `keras-hdl prepare` again with --crop-size {crop_size}"
            )
        background_path = Path(path) / BACKGROUND_FILE
        background = None
        if background_path.is_file():
            fit = json.loads(background_path.read_text())
            background = (float(fit["mean"]), float(fit["std"]))
        return TrainingData(train, val, f"prepared shards {path}", _median_spacing(val), background)
    splits, description = load_series_splits(path)
    model_spacing = median_spacing(splits["train"])
    train = slice_cines_from_series(splits["train"], crop_size, model_spacing)
    val = slice_cines_from_series(splits["val"], crop_size, model_spacing)
    return TrainingData(train, val, description, model_spacing)


def _median_spacing(cines: SliceCines) -> tuple[float, float]:
    row, col = np.median(cines.pixel_spacing, axis=0)
    return float(row), float(col)


def prepare_shards(path: str | Path, out_dir: str | Path, crop_size: int, cines_per_shard: int = 64) -> dict:
    """Write ``out_dir/train/`` and ``out_dir/val/`` shards of a phantom dataset or folder of scans.

    The cines are cropped to ``crop_size`` pixels around the LV on the training split's median
    pixel spacing and normalised as training wants them; ``background_noise.json`` holds the
    background fit of the training split.
    ``out_dir`` appears whole or not at all. Returns a summary (source, cines per split, fit).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"{out_dir}: already exists and is not an empty folder; choose a new folder for the shards")
    if isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 8:
        raise InputError(f"--crop-size: need an integer >= 8 (pixels), got {crop_size!r}")
    if cines_per_shard < 1:
        raise InputError(f"cines per shard must be >= 1, got {cines_per_shard}")
    splits, description = load_series_splits(path)
    model_spacing = median_spacing(splits["train"])
    summary = {"source": description, "crop_size": crop_size, "pixel_spacing_mm": list(model_spacing), "cines": {}}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for split in ("train", "val"):
            cines = slice_cines_from_series(splits[split], crop_size, model_spacing)
            write_shards(cines, tmp / split, cines_per_shard)
            summary["cines"][split] = cines.num_cines
            if split == "train":
                mean, std = fit_background_noise(cines.phase, cines.magnitude)
                summary["background_noise"] = {"mean": mean, "std": std, "units": "normalised phase (p / 2048 - 1)"}
        write_json(tmp / BACKGROUND_FILE, summary["background_noise"])
    return summary
