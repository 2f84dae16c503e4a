"""Read a series from whatever a path holds: the one entry point for every command.

``read_series(path)`` picks the reader from the path: a keras-hdl ``.npz`` file here;
DICOM readers (Enhanced MR file, classic folder) plug in beside it.
"""

from __future__ import annotations

from pathlib import Path

from keras_hdl.errors import InputError
from keras_hdl.series import Series


def read_series(path: str | Path) -> Series:
    """Read the series stored at ``path`` (a keras-hdl ``.npz``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix == ".npz":
        return Series.load_npz(path)
    raise InputError(f"{path}: cannot tell what this holds; expected a keras-hdl .npz series")
