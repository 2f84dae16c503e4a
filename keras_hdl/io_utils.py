"""Atomic file and folder writes: outputs appear whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError

NPZ_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
"""Fixed zip entry time of :func:`write_npz` (zipfile's default), so equal arrays give equal bytes."""
NPZ_COMPRESS_LEVEL = 1
"""zlib level of :func:`write_npz`: on noisy images level 6 (numpy's) is ~10× slower for ~20 % smaller files."""


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    Works for a file or a folder written at the yielded path. On error the
    temporary path is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_json(path: str | Path, data, *, indent: int = 2, allow_nan: bool = True, newline: bool = True) -> Path:
    """Write ``data`` as indented JSON to ``path``, whole or not at all; returns the path.

    ``allow_nan=False`` refuses NaN / infinity (strict JSON); ``newline`` ends the file with one.
    """
    path = Path(path)
    text = json.dumps(data, indent=indent, allow_nan=allow_nan) + ("\n" if newline else "")
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def save_png(figure, path: str | Path, dpi: float | None = None) -> Path:
    """Write a matplotlib ``figure`` to ``path`` as PNG, whole or not at all (the caller closes it)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write a compressed ``.npz`` atomically with deterministic bytes; returns the path.

    Like ``np.savez_compressed`` (readable by ``np.load``), but every zip entry carries
    :data:`NPZ_TIMESTAMP` (the zip format's first date, what :class:`zipfile.ZipInfo` gives
    by default) instead of the current time, so writing equal arrays twice gives identical
    files. Arrays are stored without pickling, streamed into their entries (no copy in memory).
    """
    path = Path(path)
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=NPZ_COMPRESS_LEVEL) as archive,
    ):
        for name, array in arrays.items():
            array = np.asanyarray(array)
            large = array.nbytes * 1.05 > zipfile.ZIP64_LIMIT
            # an entry opened by name is dated NPZ_TIMESTAMP and compressed as the archive says
            with archive.open(f"{name}.npy", "w", force_zip64=large) as handle:
                np.lib.format.write_array(handle, array, allow_pickle=False)
    return path


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles), decompressed now; an unreadable or damaged file is an InputError."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {name: data[name] for name in data.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        raise InputError(f"{path}: not a readable .npz file ({err})") from err
    raise InputError(f"{path}: one bare array (.npy), not an .npz archive of named arrays")
