"""Enough memory before work starts: a clear error instead of an out-of-memory kill.

A command that holds series or streams them (``assess``, ``synthesize``) first sizes its input
from the file headers alone (T·S·H·W pixels: no pixel data is read) and compares its expected
peak, :data:`SERIES_BYTES_PER_PIXEL` per pixel times the command's measured factor (smaller
where it reads or writes the images slice by slice or frame by frame), with the memory this
process may still use: ``MemAvailable``, capped by the cgroup limit of a
container and by ``KERAS_HDL_MEMORY_GB`` when set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError

SERIES_BYTES_PER_PIXEL = 4 + 3 * 4 + 1
"""A series in memory per (frame, slice, row, column): float32 magnitude, 3 float32 phase values, a bool mask."""
MEMORY_ENV = "KERAS_HDL_MEMORY_GB"
"""Environment variable: the most memory (GB) keras-hdl may plan to use, below what the machine offers."""
CGROUP_FILES = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"), Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    for limit_file, usage_file in CGROUP_FILES:
        try:
            limit, usage = limit_file.read_text().strip(), int(usage_file.read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            return max(int(limit) - usage, 0)
    return None


def available_bytes() -> int | None:
    """Bytes this process may still use (see module docstring); None when the machine does not say."""
    candidates = [b for b in (_meminfo_available(), _cgroup_available()) if b is not None]
    setting = os.environ.get(MEMORY_ENV)
    if setting:
        try:
            candidates.append(int(float(setting) * 1e9))
        except ValueError as err:
            raise InputError(f"{MEMORY_ENV}={setting!r}: expected a number of GB, e.g. 8") from err
    return min(candidates) if candidates else None


def _npz_pixels(path: Path) -> int | None:
    from keras_hdl.io_utils import npz_array_header

    return int(np.prod(npz_array_header(path, "magnitude")[0]))


def _dicom_pixels(path: Path) -> int | None:
    import pydicom

    from keras_hdl.dicom.elements import is_dicom_file

    files = sorted(p for p in path.iterdir() if is_dicom_file(p)) if path.is_dir() else [path]
    if not files:
        return None
    ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["NumberOfFrames", "Rows", "Columns"])
    images = int(ds.get("NumberOfFrames") or 1) * len(files)
    return images // 4 * int(ds.Rows) * int(ds.Columns)  # a quarter of the images are magnitude


def series_pixels(path: str | Path) -> int | None:
    """T·S·H·W of the series at ``path`` from its headers; None when they do not tell (its reader will say why)."""
    path = Path(path)
    try:
        return _npz_pixels(path) if path.suffix == ".npz" else _dicom_pixels(path)
    except Exception:  # a damaged header (any of pydicom's or zipfile's errors): the reader names it properly
        return None


def require_memory(path: str | Path, factor: float, command: str, base_bytes: float = 0.0) -> None:
    """Refuse, before any work, a series whose ``command`` would need more memory than is available.

    The command's peak resident memory, as measured: ``base_bytes`` (what it needs whatever the series, e.g.
    TensorFlow and the networks) plus ``factor`` times the series' in-memory size.
    """
    pixels, available = series_pixels(path), available_bytes()
    if pixels is None or available is None:
        return
    needed = base_bytes + pixels * SERIES_BYTES_PER_PIXEL * factor
    if needed > available:
        raise InputError(
            f"{path}: `keras-hdl {command}` of this series ({pixels:,} pixels over its frames and slices) needs about "
            f"{needed / 1e9:.1f} GB of memory, but {available / 1e9:.1f} GB are available; free memory, use a "
            f"larger machine (or raise {MEMORY_ENV}), or split the series into fewer slices"
        )
