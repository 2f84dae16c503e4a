"""Seeded fuzzing of every reader: a damaged input reads into a valid Series or raises InputError, quickly.

Each case damages one valid input (an Enhanced MR ``series.dcm``, a classic folder, a
SEG, a NIfTI mask, a series ``.npz`` or a masks ``.npz``) in one of several ways drawn
from ``default_rng([FUZZ_SEED, case])``: bytes truncated, flipped, overwritten, deleted or
repeated (mostly in the header, where the structure is), or one DICOM element (at the
top level or inside a functional group) deleted, emptied or given an odd value (another
multiplicity, 0, −1, 10⁹, NaN, text), or one ``.npz`` array dropped, reshaped, retyped or
filled with NaN. The default run tries :data:`DEFAULT_CASES` cases, ``-m slow``
:data:`SLOW_CASES` in :data:`SLOW_CHUNKS` tests (so that pytest-xdist's workers share them). A failure
lists each case with its mutation, so one case reruns alone with ``fuzz(targets, range(case, case + 1), ...)``.

The inputs are made from a series of :data:`FUZZ_FRAMES` frames x 2 slices: every structure a longer one has
(several frames and slices, per-frame functional groups, a SEG of several frames), at half the reading
time of the 6-frame series the other DICOM tests use.
"""

from __future__ import annotations

import io
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from dicom_test_series import make_series
from pydicom.data import get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from test_roundtrip import nifti_affine

from keras_hdl.cli import main
from keras_hdl.dicom import write_dicom_classic_scan, write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.readers import read_masks, read_series
from keras_hdl.series import MIN_FRAMES, Series

FUZZ_SEED = 17
DEFAULT_CASES = 360
SLOW_CASES = 10_000
SLOW_CHUNKS = 8
FUZZ_FRAMES = MIN_FRAMES
CASE_SECONDS = 5.0
"""Per-case limit: a valid case reads in about 0.05 s on 2 cores; 100× that is a hang, not slowness."""

ODD_VALUES = (0, -1, 65535, 1e9, -1e9, float("nan"), "abc", "", "1\\2\\3\\4\\5\\6\\7", [1, 2])


class CaseTimeoutError(Exception):
    """A case ran past :data:`CASE_SECONDS`."""


@dataclass(frozen=True)
class Target:
    """One valid input: its files' bytes (relative path → bytes), the file cases damage, and how to read it."""

    name: str
    files: dict[str, bytes]
    damaged: tuple[str, ...]
    read: Callable[[Path], object]
    check: Callable[[object], None]


# ------------------------------------------------------------------ mutations
def header_end(data: bytes) -> int:
    """Offset where the pixel data element of a DICOM file starts (its whole length when there is none)."""
    offset = data.rfind(b"\xe0\x7f\x10\x00")
    return offset if offset > 0 else len(data)


def mutate_bytes(data: bytes, rng: np.random.Generator, structure_end: int) -> tuple[bytes, str]:
    """One byte-level mutation, at an offset in the first ``structure_end`` bytes 3 times in 4."""
    limit = structure_end if rng.random() < 0.75 else len(data)
    offset = int(rng.integers(0, max(limit, 1)))
    length = int(rng.integers(1, 9))
    kind = rng.choice(["truncate", "flip", "overwrite", "delete", "repeat"])
    if kind == "truncate":
        return data[:offset], f"truncate at {offset}"
    if kind == "flip":
        mutated = bytearray(data)
        for position in rng.integers(0, max(limit, 1), length):
            mutated[position] ^= 1 << int(rng.integers(0, 8))
        return bytes(mutated), f"flip {length} bits below {limit}"
    if kind == "overwrite":
        run = bytes(rng.integers(0, 256, length, dtype=np.uint8))
        return data[:offset] + run + data[offset + length :], f"overwrite {length} bytes at {offset}"
    if kind == "delete":
        return data[:offset] + data[offset + length :], f"delete {length} bytes at {offset}"
    return data[:offset] + data[offset : offset + length] * 2 + data[offset + length :], f"repeat {length} at {offset}"


def elements(ds: Dataset, top_level_only: bool) -> list[tuple[Dataset, int, str]]:
    """(container, tag, path) of every element of ``ds``, or of its top level only.

    Only sequences are converted from the bytes read (to reach their items): the rest stay raw, so the file
    is written again with every element but the damaged one as it was read (and converting each element of
    the Enhanced MR file would take 50 ms a case)."""
    found = []
    for tag in ds.keys():  # noqa: SIM118 (iterating the dataset itself would convert every element)
        found.append((ds, tag, str(tag)))
        if not top_level_only and ds.get_item(tag).VR == "SQ":
            for index, item in enumerate(ds[tag].value):
                found += [(c, t, f"{tag}[{index}].{p}") for c, t, p in elements(item, False)]
    return found


def mutate_dataset(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Delete, empty or oddly set one element (top level half the time), and write the file again."""
    ds = pydicom.dcmread(io.BytesIO(data))
    candidates = elements(ds, top_level_only=rng.random() < 0.5)
    container, tag, where = candidates[int(rng.integers(len(candidates)))]
    element = container[tag]
    kind = rng.choice(["delete", "empty", "odd"])
    if kind == "delete":
        del container[tag]
    elif kind == "empty":
        element.value = DicomSequence([]) if element.VR == "SQ" else None
    elif element.VR == "SQ":
        kind = "drop items"
        element.value = DicomSequence(list(element.value)[: int(rng.integers(0, max(len(element.value), 1)))])
    else:
        value = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
        kind = f"set {value!r}"
        for candidate in (value, str(value), None):  # pydicom converts on assignment and refuses some values
            try:
                element.value = candidate
                break
            except Exception:  # TypeError, ValueError, AttributeError, ... by VR
                continue
    out = io.BytesIO()
    try:
        ds.save_as(out)
    except Exception as err:  # pydicom refuses to write some odd values (OSError, TypeError, struct.error, ...)
        return mutate_bytes(data, rng, header_end(data))[0], f"{kind} {where} unwritable ({type(err).__name__})"
    return out.getvalue(), f"{kind} {where}"


def mutate_npz(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Drop, reshape, retype or NaN-fill one array of an ``.npz`` and write it again."""
    with np.load(io.BytesIO(data)) as archive:
        arrays = {name: archive[name] for name in archive.files}
    name = sorted(arrays)[int(rng.integers(len(arrays)))]
    kind = rng.choice(["drop", "reshape", "retype", "nan", "scalar", "huge"])
    array = arrays[name]
    if kind == "drop":
        del arrays[name]
    elif kind == "reshape":
        arrays[name] = array.reshape(-1)[: max(array.size - int(rng.integers(0, 3)), 0)]
    elif kind == "retype":
        arrays[name] = array.astype(str) if array.dtype.kind != "U" else np.zeros(3)
    elif kind == "nan":
        arrays[name] = np.full(array.shape, np.nan) if array.dtype.kind != "U" else np.asarray(["nan"] * array.size)
    elif kind == "scalar":
        arrays[name] = np.asarray(7)
    else:
        arrays[name] = np.full(array.shape, 1e30) if array.dtype.kind not in "Ub" else array
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue(), f"{kind} array {name}"


def mutate(target: Target, name: str, rng: np.random.Generator) -> tuple[bytes, str]:
    data = target.files[name]
    if name.endswith(".npz") and rng.random() < 0.6:
        return mutate_npz(data, rng)
    if name.endswith(".dcm") and rng.random() < 0.5:
        return mutate_dataset(data, rng)
    end = 352 if name.endswith(".nii") else header_end(data) if name.endswith(".dcm") else len(data)
    return mutate_bytes(data, rng, end)


# -------------------------------------------------------------------- targets
def is_series(result) -> None:
    assert isinstance(result, Series)


def masks_checker(shape: tuple[int, ...]) -> Callable[[object], None]:
    def check(result) -> None:
        assert isinstance(result, np.ndarray) and result.dtype == bool and result.shape == shape

    return check


def folder_bytes(folder: Path, under: str) -> dict[str, bytes]:
    return {f"{under}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="session")
def targets(tmp_path_factory) -> dict[str, Target]:
    mvm_series = make_series(frames=FUZZ_FRAMES)
    work = tmp_path_factory.mktemp("fuzz_sources")
    dicom_scan = write_dicom_scan(mvm_series, work / "dicom")
    classic_scan = write_dicom_classic_scan(mvm_series, work / "classic")
    plain = read_series(dicom_scan / "series.dcm").replace(masks=None)
    nifti = work / "masks.nii"
    data = mvm_series.masks.transpose(3, 2, 1, 0).astype(np.uint8)
    nibabel.save(nibabel.Nifti1Image(data, nifti_affine(mvm_series, flip_rows=False)), nifti)
    mvm_series.save_npz(work / "series.npz")
    np.savez(work / "masks.npz", masks=mvm_series.masks)
    shape = mvm_series.masks.shape
    classic = folder_bytes(classic_scan / "series", "series") | {"seg.dcm": (classic_scan / "seg.dcm").read_bytes()}
    classic_files = tuple(sorted(n for n in classic if n.startswith("series/")))
    enhanced = {n: (dicom_scan / n).read_bytes() for n in ("series.dcm", "seg.dcm")}
    return {
        "enhanced": Target("enhanced", enhanced, ("series.dcm",), lambda d: read_series(d / "series.dcm"), is_series),
        "classic": Target("classic", classic, classic_files, lambda d: read_series(d / "series"), is_series),
        "seg": Target("seg", enhanced, ("seg.dcm",), lambda d: read_masks(d / "seg.dcm", plain), masks_checker(shape)),
        "nifti": Target(
            "nifti",
            {"masks.nii": nifti.read_bytes()},
            ("masks.nii",),
            lambda d: read_masks(d / "masks.nii", plain),
            masks_checker(shape),
        ),
        "npz": Target(
            "npz",
            {"series.npz": (work / "series.npz").read_bytes()},
            ("series.npz",),
            lambda d: read_series(d / "series.npz"),
            is_series,
        ),
        "masks-npz": Target(
            "masks-npz",
            {"masks.npz": (work / "masks.npz").read_bytes()},
            ("masks.npz",),
            lambda d: read_masks(d / "masks.npz", plain),
            masks_checker(shape),
        ),
    }


# ---------------------------------------------------------------------- cases
def _alarm(signum, frame):
    raise CaseTimeoutError(f"ran past {CASE_SECONDS} s")


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def damage(target: Target, case: int, folder: Path) -> str:
    """Write ``target`` into ``folder`` with case ``case``'s damage; returns what was damaged and how."""
    rng = np.random.default_rng([FUZZ_SEED, case])
    name = target.damaged[int(rng.integers(len(target.damaged)))]
    data, how = mutate(target, name, rng)
    write_files(folder, {**target.files, name: data})
    return f"{name}: {how}"


def attempt(read: Callable[[], object], check: Callable[[object], None], where: Path) -> str | None:
    """Read within :data:`CASE_SECONDS`: None when the result passes ``check`` or an InputError names ``where``."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        check(read())
    except InputError as err:
        if str(where) not in str(err):
            return f"the error names no file: {err}"
    except Exception as err:  # the point of the test: anything else is a defect
        return f"{type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return None


def fuzz(targets: dict[str, Target], cases: range, tmp_path: Path) -> list[str]:
    """Failures (case, damage, what escaped) of ``cases``, which go round the targets in name order."""
    failures = []
    names = sorted(targets)
    for case in cases:
        target = targets[names[case % len(names)]]
        folder = tmp_path / target.name
        how = damage(target, case, folder)
        failure = attempt(lambda target=target, folder=folder: target.read(folder), target.check, folder)
        if failure:
            failures.append(f"{target.name} case {case} ({how}): {failure}")
        shutil.rmtree(folder)
    return failures


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzzed_inputs_read_or_raise_input_error(targets, tmp_path):
    failures = fuzz(targets, range(DEFAULT_CASES), tmp_path)
    assert not failures, f"{len(failures)} of {DEFAULT_CASES} cases escaped:\n" + "\n".join(failures)


CHUNK_CASES = -(-SLOW_CASES // SLOW_CHUNKS)
SLOW_CASE_CHUNKS = [range(SLOW_CASES)[first : first + CHUNK_CASES] for first in range(0, SLOW_CASES, CHUNK_CASES)]
"""Consecutive cases, so that each chunk goes round every target (a slice of a range stops at its end)."""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cases", SLOW_CASE_CHUNKS, ids=lambda cases: f"cases-{cases.start}-{cases.stop - 1}")
def test_ten_thousand_fuzzed_inputs_read_or_raise_input_error(targets, cases, tmp_path):
    failures = fuzz(targets, cases, tmp_path)
    assert not failures, f"{len(failures)} of {len(cases)} cases escaped:\n" + "\n".join(failures[:50])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pydicom_test_files_alone_and_as_folders_read_or_raise_input_error():
    files = [Path(p) for p in get_testdata_files()]
    folders = sorted({p.parent for p in files})
    assert len(files) > 200, "pydicom-data (the test extra) supplies most of these files"
    failures = [f"{p}: {f}" for p in files + folders if (f := attempt(lambda p=p: read_series(p), is_series, p))]
    assert not failures, "\n".join(failures)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_refuses_damaged_inputs_with_one_line_exit_2_and_no_output(targets, tmp_path):
    """A sample of damaged series that the readers refuse: ``keras-hdl assess`` says why in one line."""
    names = [name for name in sorted(targets) if targets[name].check is is_series]
    sample = []
    for case in range(DEFAULT_CASES):
        target = targets[names[case % len(names)]]
        folder = tmp_path / f"case{case}"
        damage(target, case, folder)
        try:
            target.read(folder)
        except InputError:
            sample.append((target, folder))
        if len(sample) == 6:
            break
    assert {target.name for target, _ in sample} == set(names)
    for target, folder in sample:
        path = folder / {"enhanced": "series.dcm", "classic": "series", "npz": "series.npz"}[target.name]
        result = CliRunner().invoke(main, ["assess", str(path)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
        assert str(path) in result.output
        assert sorted(p.name for p in folder.iterdir()) == sorted({Path(n).parts[0] for n in target.files})
