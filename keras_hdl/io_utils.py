"""Atomic file and folder writes: outputs appear whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError

NPZ_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, tokenize.TokenError)
"""What reading a damaged ``.npz`` raises: zip and zlib errors, short reads, and from numpy's ``.npy`` header parser
ValueError or, for a header that its fallback tokenizes, tokenize.TokenError (found by tests/dicom/test_fuzz.py)."""

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


class FrameFile:
    """A (T, ...) array too big to hold, on disk at ``path``: appended and read one frame (first-axis entry) at a
    time with plain file reads, so a process holds one frame of it (pages of a memory map would count)."""

    def __init__(self, path: Path, frame_shape: tuple[int, ...], dtype=np.float32) -> None:
        self.path, self.frame_shape, self.dtype, self.frames = Path(path), tuple(frame_shape), np.dtype(dtype), 0
        self.path.write_bytes(b"")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.frames, *self.frame_shape)

    @property
    def frame_bytes(self) -> int:
        return int(np.prod(self.frame_shape)) * self.dtype.itemsize

    def append(self, frame: np.ndarray) -> None:
        """Write the next frame (``frame_shape``)."""
        with open(self.path, "ab") as handle:
            handle.write(np.ascontiguousarray(frame, self.dtype).reshape(self.frame_shape).tobytes())
        self.frames += 1

    def read(self) -> np.ndarray:
        """The whole array ``shape``, read from the file."""
        return np.fromfile(self.path, self.dtype).reshape(self.shape)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (``frame_shape``), read from the file."""
        with open(self.path, "rb") as handle:
            handle.seek(index * self.frame_bytes)
            return np.fromfile(handle, self.dtype, int(np.prod(self.frame_shape))).reshape(self.frame_shape)


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray | FrameFile]) -> Path:
    """Write a compressed ``.npz`` atomically with deterministic bytes; returns the path.

    Like ``np.savez_compressed`` (readable by ``np.load``), but every zip entry carries
    :data:`NPZ_TIMESTAMP` (the zip format's first date, what :class:`zipfile.ZipInfo` gives
    by default) instead of the current time, so writing equal arrays twice gives identical
    files. Arrays are stored without pickling, streamed into their entries (no copy in memory);
    a :class:`FrameFile` frame by frame, into the bytes its array would give.
    """
    path = Path(path)
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=NPZ_COMPRESS_LEVEL) as archive,
    ):
        for name, array in arrays.items():
            array = array if isinstance(array, FrameFile) else np.asanyarray(array)
            large = int(np.prod(array.shape)) * array.dtype.itemsize * 1.05 > zipfile.ZIP64_LIMIT
            # an entry opened by name is dated NPZ_TIMESTAMP and compressed as the archive says
            with archive.open(f"{name}.npy", "w", force_zip64=large) as handle:
                if isinstance(array, FrameFile):
                    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False}
                    np.lib.format.write_array_header_1_0(handle, {**header, "shape": array.shape})
                    for index in range(array.frames):
                        handle.write(array.frame(index).tobytes())
                else:
                    np.lib.format.write_array(handle, array, allow_pickle=False)
    return path


def npz_array_header(path: str | Path, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of array ``name`` of an ``.npz``, from its header alone (nothing decompressed
    beyond it); a missing array or a damaged file is an InputError."""
    with _npz_member(path, name) as handle:
        return _npy_header(handle)


def iter_npz_frames(path: str | Path, name: str) -> Iterator[np.ndarray]:
    """The entries along the first axis of array ``name`` (C order) of an ``.npz``, one at a time, decompressed as
    they are read: the memory of one entry."""
    with _npz_member(path, name) as handle:
        shape, fortran, dtype = _npy_header(handle)
        if fortran or dtype.hasobject or not shape:
            raise InputError(f"{path}: array {name} is not a C-ordered numeric array of frames ({dtype}, {shape})")
        count = int(np.prod(shape[1:]))
        for _ in range(shape[0]):
            data = handle.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise InputError(f"{path}: array {name} ends early; the file is damaged")
            yield np.frombuffer(data, dtype, count).reshape(shape[1:])


@contextlib.contextmanager
def _npz_member(path: str | Path, name: str):
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as handle:
            yield handle
    except KeyError as err:
        raise InputError(f"{path}: no array {name}; this is not a keras-hdl series file") from err
    except NPZ_READ_ERRORS as err:
        raise InputError(f"{path}: not a readable .npz file ({err})") from err


def _npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(handle)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = header(handle)
    return tuple(shape), bool(fortran), np.dtype(dtype)


def read_npz(path: str | Path, skip: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` but those named in ``skip`` (no pickles), decompressed now; an unreadable or
    damaged file is an InputError."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {name: data[name] for name in data.files if name not in skip}
    except NPZ_READ_ERRORS as err:
        raise InputError(f"{path}: not a readable .npz file ({err})") from err
    raise InputError(f"{path}: one bare array (.npy), not an .npz archive of named arrays")
