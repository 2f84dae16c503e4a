"""Siemens phase images whose SequenceName carries no venc: the CSA image header (0029,1010) supplies it."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pydicom
import pytest

from keras_hdl.errors import InputError
from keras_hdl.readers import read_series


def csa2_header(tags: dict[str, tuple[str, str]]) -> bytes:
    """A Siemens CSA2 header ('SV10') with one item per tag: name → (VR, value)."""
    out = b"SV10\x04\x03\x02\x01" + struct.pack("<2I", len(tags), 77)
    for name, (vr, value) in tags.items():
        item = value.encode() + b"\0"
        out += struct.pack("<64si4s3i", name.encode(), 1, vr.encode(), 0, 1, 77)
        out += struct.pack("<4i", len(item), len(item), 77, len(item)) + item + b"\0" * (-len(item) % 4)
    return out


def give_csa(folder, suffix: str, sequence_name: str, tags: dict[str, tuple[str, str]]) -> None:
    """Rewrite the phase files whose SequenceName ends with ``suffix``: new SequenceName + a CSA header."""
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        if ds.ImageType[2] != "P" or not str(ds.SequenceName).endswith(suffix):
            continue
        ds.SequenceName = sequence_name
        ds.add_new((0x0029, 0x0010), "LO", "SIEMENS CSA HEADER")
        ds.add_new((0x0029, 0x1010), "OB", csa2_header(tags))
        ds.save_as(path)


@pytest.fixture
def folder(classic_scan, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(classic_scan / "series", copy)
    return copy


def test_venc_from_csa_flow_venc(folder, mvm_series):
    give_csa(folder, "iny", "fl2d1_iny", {"FlowVenc": ("FD", "15")})
    give_csa(folder, "through", "fl2d1", {"FlowVenc": ("FD", "30"), "FlowEncodingDirectionString": ("ST", "through")})
    back = read_series(folder)
    assert back.venc == (20.0, 15.0, 30.0)
    np.testing.assert_array_equal(back.phase, np.minimum(mvm_series.phase, 4095))


def test_zero_csa_venc_is_refused(folder):
    give_csa(folder, "iny", "fl2d1_iny", {"FlowVenc": ("FD", "0")})
    with pytest.raises(InputError, match="missing or zero venc"):
        read_series(folder)
