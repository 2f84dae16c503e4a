"""Phantom datasets on disk: layout, determinism to the byte, subject-wise splits, atomic writes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from keras_hdl.errors import InputError
from keras_hdl.phantom import dataset as dataset_module
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import load_manifest, split_subjects, write_dataset
from keras_hdl.phantom.truth import load_truth
from keras_hdl.readers import read_series

SMALL = PhantomConfig(subjects=3, rescans=2, slices=1, frames=20, size=64, seed=11)


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("phantom") / "data"
    return out_dir, write_dataset(out_dir, SMALL, preview=True)


def test_layout_manifest_and_files(small_dataset):
    out_dir, manifest = small_dataset
    assert load_manifest(out_dir) == manifest
    assert manifest["seed"] == 11 and manifest["parameters"]["subjects"] == 3 and manifest["format"] == "npz"
    assert [scan["scan_id"] for scan in manifest["scans"]] == [f"subj00{s}_scan{r}" for s in (1, 2, 3) for r in (1, 2)]
    listed = {"manifest.json", "preview.png"}
    for scan in manifest["scans"]:
        listed |= {*scan["files"], scan["truth"]}
        series = read_series(out_dir / scan["files"][0])
        truth = load_truth(out_dir / scan["scan_id"])
        assert series.magnitude.shape == (20, 1, 64, 64) and series.masks.any(axis=(2, 3)).all()
        assert series.provenance["source"] == "phantom"
        assert (series.provenance["subject"], series.provenance["scan"]) == (scan["subject"], scan["scan_id"])
        assert series.provenance["seed"] == 11
        assert truth.radial_mm_s.shape == (1, 20) and truth.slice_labels == ("mid",) == tuple(scan["slice_labels"])
        assert series.rr_interval_ms == truth.rr_interval_ms
        assert series.pixel_spacing == pytest.approx((2.5, 2.5))  # 64 px: the smallest field of view, 160 mm
    assert set(file_bytes(out_dir)) == listed
    json.dumps(manifest)  # plain JSON


def test_same_seed_gives_identical_bytes_and_another_seed_other_subjects(small_dataset, tmp_path):
    out_dir, manifest = small_dataset
    write_dataset(tmp_path / "again", SMALL, preview=True)
    assert file_bytes(tmp_path / "again") == file_bytes(out_dir)  # series, truth, manifest and montage

    other = write_dataset(tmp_path / "other", dataclasses.replace(SMALL, seed=12))
    for mine, theirs in zip(manifest["subjects"], other["subjects"], strict=True):
        assert mine["subject_id"] == theirs["subject_id"]
        assert mine["rr_interval_ms"] != theirs["rr_interval_ms"] and mine["endo_radius_mm"] != theirs["endo_radius_mm"]
    first = read_series(tmp_path / "other" / other["scans"][0]["files"][0])
    assert not np.array_equal(first.magnitude, read_series(out_dir / manifest["scans"][0]["files"][0]).magnitude)


def test_splits_are_by_subject(small_dataset):
    _, manifest = small_dataset
    splits = manifest["splits"]
    assert all(len(splits[name]) == 1 for name in ("train", "val", "test"))
    for scan in manifest["scans"]:
        assert scan["split"] == next(name for name, ids in splits.items() if scan["subject"] in ids)
    for count in (1, 2, 3, 7, 20, 101):
        ids = [f"subj{i:03d}" for i in range(count)]
        groups = split_subjects(ids, seed=5)
        members = [set(groups[name]) for name in ("train", "val", "test")]
        assert set.union(*members) == set(ids) and sum(map(len, members)) == count  # disjoint, complete
        if count >= 3:
            assert all(members) and len(members[0]) >= len(members[1])
    assert split_subjects([f"s{i}" for i in range(20)], 5) != split_subjects([f"s{i}" for i in range(20)], 6)


def test_a_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_writer(series, scan_dir):
        calls.append(scan_dir)
        if len(calls) == 2:
            raise InputError("disk full (simulated)")
        return dataset_module.write_npz_scan(series, scan_dir)

    monkeypatch.setitem(dataset_module.SCAN_WRITERS, "npz", failing_writer)
    with pytest.raises(InputError, match="disk full"):
        write_dataset(tmp_path / "out", SMALL)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_or_replaced(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("user data")
    config = PhantomConfig(subjects=1, slices=1, frames=20, size=64)
    with pytest.raises(InputError, match=r"not empty.*--overwrite"):
        write_dataset(out_dir, config)
    assert [p.name for p in out_dir.iterdir()] == ["keep.txt"]
    write_dataset(out_dir, config, overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ["manifest.json", "subj001_scan1"]
