"""Write a twin: ``DIR/series.dcm`` (Enhanced MR), ``DIR/seg.dcm`` (its myocardium) and ``DIR/twin.npz``, atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_hdl.dicom import SEG_FILE, SERIES_FILE, SyntheticInfo, write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.io_utils import FrameFile, atomic_path, write_npz
from keras_hdl.segmentation.output import INPUT_FILES
from keras_hdl.series import Series

if TYPE_CHECKING:
    from keras_hdl.synthesis.pipeline import TwinPlan

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
    plan: TwinPlan, out_dir: str | Path, synthetic: SyntheticInfo, extra: Callable[[Path], object] | None = None
) -> Series:
    """Write the twin ``plan`` makes: its DICOM (synthetic, de-identified) and ``twin.npz`` into ``out_dir``, in
    one atomic step; ``extra(folder)``, when given, writes more files into the folder before it appears.

    The twin is made frame by frame (:meth:`TwinPlan.frames_in_order`): its magnitude and phase go to disk as they
    are made (into the folder being written) and from there into the files, so memory holds one frame of them
    (and the masks). The files hold what ``synthesize_twin`` gives. Returns the twin's series, a zero magnitude in
    place of its images (:meth:`TwinPlan.series`).
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    low = plan.low_rate
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        magnitude = FrameFile(tmp / ".magnitude.partial", (low.num_slices, *low.image_shape))
        phase = FrameFile(tmp / ".phase.partial", (low.num_slices, 3, *low.image_shape))
        masks = np.empty((plan.frames, low.num_slices, *low.image_shape), bool)
        for t, (frame_magnitude, frame_phase, frame_masks) in enumerate(plan.frames_in_order()):
            magnitude.append(frame_magnitude)
            phase.append(frame_phase)
            masks[t] = frame_masks
        twin = plan.series(masks)
        write_dicom_scan(twin, tmp, synthetic=synthetic, images=(magnitude, phase))
        write_npz(tmp / TWIN_NPZ, twin.npz_arrays(magnitude=magnitude, phase=phase))
        magnitude.path.unlink()
        phase.path.unlink()
        if extra is not None:
            extra(tmp)
    return twin
