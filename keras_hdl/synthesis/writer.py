"""Write a twin: ``DIR/series.dcm`` (Enhanced MR), ``DIR/seg.dcm`` (its myocardium) and ``DIR/twin.npz``, atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from keras_hdl.dicom import SEG_FILE, SERIES_FILE, SyntheticInfo, write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path
from keras_hdl.segmentation.output import INPUT_FILES
from keras_hdl.series import Series

TWIN_NPZ = "twin.npz"
TWIN_FILES = (SERIES_FILE, SEG_FILE, TWIN_NPZ, *INPUT_FILES)
"""What a twin's folder may hold: the twin, and the input's automatic masks when it came without any."""


def check_out_dir(out_dir: Path) -> None:
    """Refuse an existing folder that holds anything but a previous twin (which is replaced)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; choose another --out")
    if out_dir.is_dir():
        others = sorted(p.name for p in out_dir.iterdir() if p.name not in TWIN_FILES)
        if others:
            raise InputError(
                f"{out_dir}: exists and holds other files ({', '.join(others[:3])}); choose an empty or new --out "
                "folder (a previous twin there is replaced)"
            )


def write_twin(
    twin: Series, out_dir: str | Path, synthetic: SyntheticInfo, extra: Callable[[Path], object] | None = None
) -> Path:
    """Write the twin's DICOM (synthetic, de-identified) and ``twin.npz`` into ``out_dir`` in one atomic step.

    ``extra(folder)``, when given, writes more files into the folder before it appears.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    with atomic_path(out_dir) as tmp:
        write_dicom_scan(twin, tmp, synthetic=synthetic)
        twin.save_npz(tmp / TWIN_NPZ)
        if extra is not None:
            extra(tmp)
    return out_dir
